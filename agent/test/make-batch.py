#!/usr/bin/env python3
"""make-batch.py: hand-written test batches for the agent (PROTOCOL.md "Batch"), lowered like
src/target/bochs/lower.ts (stub prologue, stub PML4 entries and a probe fetch before guest ops).
Usage: make-batch.py NAME[+expect|+badexpect][+disk] OUT.img
         (NAME: empty | paging | ept | misc | timing[N] | all)
       make-batch.py --results IMG   (prints the result stream a +disk image holds)
+expect adds an expectations section (PROTOCOL.md "Expectations") in which every step allows
`ok` or `gp`; +badexpect the same, one record short (the agent must say badtrace); +disk sets
"results to disk" (PROTOCOL.md "Results on disk") with the region right after the batch."""
import struct, sys

AGENT_IMG = __file__.rsplit('/', 2)[0] + '/build/agent.img'
RAM_END = 0x0F000000
MAXPHY = 40
STUB_HPA = 0x0EFF0000
STUB_GPA = 0x80_0000_0000
STUB_LA_SUP = 0xFF80_0000_0000
STUB_LA_USER = 0xFF80_0000_1000
OPS = dict(read=1, write=2, fetch=3, set_reg=4, invlpg=5, invvpid=6, invept=7, set_eptp=8,
           set_spptp=9, set_ctls2=10, phys_write=11, phys_read=12, ept_set=13, gpt_set=14, sppt_set=15)
REGS = dict(cr0=0, cr3=1, cr4=2, efer=3, rflags=4, cpl=5, pkru=6, pkrs=7)
M64 = (1 << 64) - 1

def op(name, a=0, b=0, c=0, x=0, y=0):
    return struct.pack('<BBHIQQQ', OPS[name], a, b, c & 0xffffffff, x & M64, y & M64, 0)

def read(la, size): return [('g', op('read', a=size, x=la))]
def write(la, size, v): return [('g', op('write', a=size, x=la, y=v))]
def fetch(la, size): return [('f', op('fetch', a=size, x=la))]
def set_reg(reg, v): return [('g' if reg in ('cr0', 'cr3', 'cr4', 'efer', 'pkrs') else 'h', op('set_reg', a=REGS[reg], y=v))]
def invlpg(la): return [('g', op('invlpg', x=la))]
def invvpid(t, vpid, la): return [('h', op('invvpid', a=t, b=vpid, y=la))]
def invept(t, eptp): return [('h', op('invept', a=t, y=eptp))]
def set_eptp(v): return [('h', op('set_eptp', y=v))]
def set_spptp(v): return [('h', op('set_spptp', y=v))]
def set_ctls2(v): return [('h', op('set_ctls2', c=v))]
def phys_write(hpa, size, v): return [('h', op('phys_write', a=size, x=hpa, y=v))]
def phys_read(hpa, size): return [('h', op('phys_read', a=size, x=hpa))]
def ept_set(gpa, level, e): return [('h', op('ept_set', a=level, x=gpa, y=e))]
def gpt_set(la, level, e): return [('h', op('gpt_set', a=level, x=la, y=e))]
def sppt_set(gpa, level, e): return [('h', op('sppt_set', a=level, x=gpa, y=e))]

G_TABLE = 0x1 | 0x2 | 0x4 | 0x20
E_TABLE = 0x7 | 0x100
E_LEAF = 0x7 | (6 << 3) | 0x100 | 0x200
hpa_of = lambda k: STUB_HPA + k * 0x1000
gpa_of = lambda k: STUB_GPA + k * 0x1000
STUB_GUEST_PML4E = gpa_of(1) + G_TABLE
STUB_EPT_PML4E = hpa_of(4) + E_TABLE
CODE = {0x00: [0x90], 0x10: [0x8a, 0x07], 0x20: [0x66, 0x8b, 0x07], 0x30: [0x8b, 0x07],
        0x40: [0x48, 0x8b, 0x07], 0x50: [0x88, 0x07], 0x60: [0x66, 0x89, 0x07], 0x70: [0x89, 0x07],
        0x80: [0x48, 0x89, 0x07], 0x90: [0x0f, 0x01, 0x3f], 0xa0: [0x0f, 0x22, 0xc0],
        0xb0: [0x0f, 0x22, 0xd8], 0xc0: [0x0f, 0x22, 0xe0], 0xd0: [0x0f, 0x30]}

def prologue():
    code = bytearray(0xe0)
    for off, b in CODE.items(): code[off:off + len(b)] = bytes(b)
    out = []
    for off in range(0, len(code), 8):
        v = int.from_bytes(code[off:off + 8], 'little')
        if v: out += phys_write(hpa_of(0) + off, 8, v)
    out += phys_write(hpa_of(1), 8, gpa_of(2) + G_TABLE)
    out += phys_write(hpa_of(2), 8, gpa_of(3) + G_TABLE)
    out += phys_write(hpa_of(3), 8, gpa_of(0) + (0x1 | 0x2 | 0x20 | 0x40))
    out += phys_write(hpa_of(3) + 8, 8, gpa_of(0) + (0x1 | 0x2 | 0x4 | 0x20 | 0x40))
    out += phys_write(hpa_of(4), 8, hpa_of(5) + E_TABLE)
    out += phys_write(hpa_of(5), 8, hpa_of(6) + E_TABLE)
    for k in (0, 1, 2, 3): out += phys_write(hpa_of(6) + k * 8, 8, hpa_of(k) + E_LEAF)
    return out

def lower(items):
    """items: list of (kind, bytes); kind g = through the stub, h = host, f = fetch."""
    out = [b for _, b in prologue()]
    cpl = 0
    for kind, b in items:
        if b[0] == OPS['set_reg'] and b[1] == REGS['cpl']:
            v = struct.unpack_from('<Q', b, 16)[0]
            if v <= 3: cpl = v
        if kind == 'g':
            at0 = b[0] in (OPS['invlpg'], OPS['set_reg'])
            run = 0 if at0 else cpl
            out.append(ept_set(STUB_GPA, 4, STUB_EPT_PML4E)[0][1])
            out.append(gpt_set(STUB_LA_SUP, 4, STUB_GUEST_PML4E)[0][1])
            if run != cpl: out.append(set_reg('cpl', run)[0][1])
            out.append(fetch(STUB_LA_USER if run == 3 else STUB_LA_SUP, 1)[0][1])
            out.append(b)
            if run != cpl: out.append(set_reg('cpl', cpl)[0][1])
        else:
            out.append(b)
    return out

EXPECT = None      # None, 'ok', 'short': the expectations section main() asks for
FLAG_EXPECT, FLAG_RESULTS_DISK = 1, 2
EXPECT_KIND = dict(ok=1, data=2, pf=3, exit=4, gp=5, vmfail=6, noent=7)

def expect_rec(kind, a=0, b=0, c=0, d=None):
    return struct.pack('<BB6xQQQQ', EXPECT_KIND[kind], d is not None, a, b, c, d or 0)

def expectations(nops, short):
    counts = bytes([2] * nops) + b'\0' * (-nops % 8)
    recs = (expect_rec('ok') + expect_rec('gp')) * nops
    return counts + (recs[:-40] if short else recs)

def trace(index, items, watch, eptp=0x5e, spptp=0x1000, ctls2=0x22):
    ops = lower(items)
    watch = sorted(set(watch) | {(STUB_HPA >> 12) + k for k in range(7)})
    hdr = struct.pack('<IIIIQQIIQQ', 0x31435254, index, len(ops), len(watch), eptp, spptp, ctls2, 0,
                      STUB_LA_SUP, STUB_LA_USER)
    w = b''.join(struct.pack('<I', f) for f in watch)
    if len(watch) % 2: w += b'\0' * 4
    exp = expectations(len(ops), EXPECT == 'short') if EXPECT else b''
    return hdr + w + b''.join(ops) + exp

def batch(traces, flags=0, result_sectors=0):
    """The batch; with FLAG_RESULTS_DISK the results block puts the stream right after it."""
    body = b''.join(traces)
    head = 40 + (8 if flags & FLAG_RESULTS_DISK else 0)
    total = head + len(body)
    out = b'EPTFBAT1' + struct.pack('<IIQQII', 1, len(traces), total, RAM_END, MAXPHY, flags)
    if flags & FLAG_RESULTS_DISK:
        out += struct.pack('<II', 512 + (total + 511) // 512, result_sectors)
    return out + body

def results(img):
    """The result stream of a +disk image: from the results block's LBA up to the first NUL."""
    data = open(img, 'rb').read()
    b = data[512 * 512:]
    flags = struct.unpack_from('<I', b, 36)[0]
    if not flags & FLAG_RESULTS_DISK: raise SystemExit('not a results-to-disk batch')
    lba, sectors = struct.unpack_from('<II', b, 40)
    region = data[lba * 512:(lba + sectors) * 512]
    return region.split(b'\0', 1)[0].decode('latin1')

def ept_identity():
    # EPT: PML4 (HPA 0) -> PDPT 0x2000 -> PD 0x3000 -> PT 0x4000; GPA 0x10000-0x15fff identity RWX WB
    # plus GPA 0 -> HPA 0x1000: the initial guest PML4 (CR3 = 0), where the stub's PML4 entry goes
    t = ept_set(0, 4, 0x2007) + ept_set(0, 3, 0x3007) + ept_set(0, 2, 0x4007) + ept_set(0, 1, 0x1037)
    for g in range(0x10000, 0x16000, 0x1000): t += ept_set(g, 1, g | 0x37)
    return t

def guest_tables():
    return (set_reg('cr3', 0x10000) + gpt_set(0x400000, 4, 0x11007) + gpt_set(0x400000, 3, 0x12007)
            + gpt_set(0x400000, 2, 0x13007) + gpt_set(0x400000, 1, 0x14007) + gpt_set(0x401000, 1, 0x15007))

WATCH = [0, 1, 2, 3, 4, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15]

def t_paging(i):
    # corpus/seeds/guest-paging.txt
    t = ept_identity() + guest_tables()
    t += read(0x400000, 8)
    t += write(0x400ff8, 8, 0xaabbccddeeff0011)
    t += phys_read(0x13000, 8)
    t += gpt_set(0x401000, 1, 0x15005) + invlpg(0x401000)
    t += write(0x401000, 4, 1)                  # WP=1: #PF 0x3
    t += set_reg('cr0', 0x80000001)
    t += write(0x401000, 4, 1)                  # WP=0: ok
    t += set_reg('cpl', 3)
    t += write(0x401000, 4, 1)                  # 0x7
    t += set_reg('cpl', 0)
    t += set_reg('cr4', 0x300020)
    t += fetch(0x401000, 2)                     # SMEP: 0x11
    t += read(0x401000, 8)                      # SMAP: 0x1
    t += set_reg('rflags', 0x40000)
    t += read(0x401000, 8)                      # AC=1: ok
    t += gpt_set(0x401000, 1, 0x8000000000015005) + invlpg(0x401000)
    t += set_reg('cr4', 0x20)
    t += set_reg('cpl', 3)
    t += fetch(0x401000, 2)                     # 0x15
    t += gpt_set(0x401000, 1, 0x8000000015005) + invlpg(0x401000)
    t += read(0x401000, 1)                      # bit 51 reserved: 0xd
    return trace(i, t, WATCH)

def t_ept(i):
    # corpus/seeds/ept-permissions.txt
    t = ept_identity() + guest_tables()
    t += write(0x400010, 8, 0x9090909090909090)   # nops, so the fetches below run one instruction
    t += ept_set(0x14000, 1, 0x14031) + invept(2, 0)
    t += read(0x400010, 8) + write(0x400010, 8, 0) + fetch(0x400010, 1)
    t += ept_set(0x14000, 1, 0x14034) + invept(2, 0)
    t += read(0x400010, 8) + fetch(0x400010, 1)
    t += ept_set(0x14000, 1, 0x14032)
    t += read(0x400010, 8)
    t += ept_set(0x14000, 1, 0x14017)
    t += read(0x400010, 8)
    t += ept_set(0x14000, 1, 0)
    t += read(0x400010, 8)
    t += ept_set(0, 2, 0x4001)
    t += ept_set(0x14000, 1, 0x14037) + invept(1, 0x5e)
    t += write(0x400010, 8, 2)
    return trace(i, t, WATCH)

def t_misc(i):
    t = ept_identity() + guest_tables()
    t += set_eptp(0x5e) + set_eptp(0x1e) + set_eptp(0x58) + set_eptp(0x10000000005e)
    t += set_spptp(0x1001) + set_spptp(0x5000)
    t += set_ctls2(0x22) + set_ctls2(0x800022) + set_ctls2(0x400022)
    t += invept(1, 0x5e) + invept(3, 0x5e) + invvpid(0, 1, 0x400000) + invvpid(1, 0, 0) + invvpid(2, 0, 0)
    t += set_reg('cr3', 1 << 45) + set_reg('efer', 0xd01) + set_reg('efer', 0x1d00) + set_reg('pkrs', 0)
    t += set_reg('cpl', 4) + set_reg('pkru', 1 << 32)
    t += phys_write(0xF000000 - 4, 8, 1) + phys_read(0x14000, 8)
    t += ept_set(0x200000, 1, 0x1234) + gpt_set(0x800000, 1, 0) + sppt_set(0x14000, 1, 0)
    # protection keys: leaf key 1 with AD1
    t += set_reg('cr4', 0x400020) + gpt_set(0x401000, 1, (1 << 59) | 0x15007) + invlpg(0x401000)
    t += set_reg('pkru', 0x4) + read(0x401000, 4) + set_reg('cpl', 3) + read(0x401000, 4)
    t += set_reg('pkru', 0x8) + read(0x401000, 4) + write(0x401000, 4, 9) + set_reg('cpl', 0)
    t += set_reg('pkru', 0) + read(0x401000, 4)
    # SPP: 0x14000 read-only with SPP bit, sub-page 0 writable, sub-page 1 not
    t += set_ctls2(0x800022) + set_spptp(0x5000)
    t += phys_write(0x5000, 8, 0x6001) + phys_write(0x6000, 8, 0x7001) + phys_write(0x7000, 8, 0x8001)
    t += sppt_set(0x14000, 1, 0x1)
    t += ept_set(0x14000, 1, (1 << 61) | 0x14331) + invept(2, 0)
    t += write(0x400000, 8, 5) + write(0x400080, 8, 6)
    t += sppt_set(0x14000, 2, 0) + invept(2, 0) + write(0x400000, 8, 7)
    t += fetch(0x400000, 1)
    t += phys_write(0xA0000, 1, 1)               # skip reserved: ends the trace
    return trace(i, t, WATCH + [5, 6, 7, 8])

def t_timing(i):
    t = ept_identity() + guest_tables()
    for k in range(6):
        t += read(0x400000 + 8 * k, 8) + write(0x401000 + 8 * k, 8, k)
    return trace(i, t, WATCH)

def main():
    global EXPECT
    if sys.argv[1] == '--results':
        sys.stdout.write(results(sys.argv[2]))
        return
    name, out = sys.argv[1], sys.argv[2]
    parts = name.split('+')
    name, flags = parts[0], 0
    if 'expect' in parts: EXPECT, flags = 'ok', flags | FLAG_EXPECT
    if 'badexpect' in parts: EXPECT, flags = 'short', flags | FLAG_EXPECT
    if 'disk' in parts: flags |= FLAG_RESULTS_DISK
    if name == 'empty': traces = []
    elif name == 'paging': traces = [t_paging(0)]
    elif name == 'ept': traces = [t_ept(0)]
    elif name == 'misc': traces = [t_misc(0)]
    elif name == 'all': traces = [t_paging(0), t_ept(1), t_misc(2), t_paging(3)]
    elif name.startswith('timing'): traces = [t_timing(k) for k in range(int(name[6:] or 200))]
    else: raise SystemExit('unknown batch ' + name)
    agent = open(AGENT_IMG, 'rb').read()
    assert len(agent) == 512 * 512
    result_sectors = 64 * (len(traces) + 1) if flags & FLAG_RESULTS_DISK else 0
    data = agent + batch(traces, flags, result_sectors)
    data += b'\0' * (-len(data) % 512 + 512 * result_sectors)
    if flags & FLAG_RESULTS_DISK:
        data += b'\0' * (-len(data) % (16 * 63 * 512))   # whole cylinders: run.sh boots it in place
    open(out, 'wb').write(data)
    if traces: print('ops per trace:', [struct.unpack_from('<I', t, 8)[0] for t in traces][:4], file=sys.stderr)

if __name__ == "__main__":
    main()

def listing(tr):
    """(step, text) for each op of an encoded trace, for reading results."""
    names = {v: k for k, v in OPS.items()}
    nops, nwatch = struct.unpack_from('<II', tr, 8)
    at = 56 + 4 * (nwatch + nwatch % 2)
    out = []
    for i in range(nops):
        code, a, b, c, x, y, z = struct.unpack_from('<BBHIQQQ', tr, at + 32 * i)
        out.append('%x %s a=%x b=%x c=%x x=%x y=%x' % (i, names[code], a, b, c, x, y))
    return out
