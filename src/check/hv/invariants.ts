/**
 * Hypervisor invariants (pkvm-and-vtl.md §3; docs/hypervisor.md "Invariants"), checked on the
 * real EPT entries in emulated memory, not on the hypervisor's bookkeeping alone.
 * Contract: `checkHvInvariants(hv, full)` returns every finding after the last op: incrementally
 * on the pages and gfns the op touched, or over every page and leaf with `full`. Ids are stable
 * (HV_INVARIANTS); `coarse` carries no addresses or values (it feeds failure signatures).
 */
import type { Hypervisor } from '../../hv/hypervisor.js';
import type { Vm } from '../../hv/vm.js';
import { T_R, T_W, T_X, T_XU } from '../../hw/tlb.js';
import {
  AGED_LO, MEMATTR_NR, MEMATTR_NW, MEMATTR_NX, MEMATTR_PRIVATE, OWNER_HYP, PAGE_STATE_NAMES, PS_NOPAGE,
  PS_OWNED, PS_SHARED_BORROWED, PS_SHARED_OWNED, R, SPP_ALL_WRITABLE, STATE_MASK_HI, STATE_SHIFT_HI, UX, W, X,
} from '../../hv/consts.js';

export const HV_INVARIANTS = {
  uniqueOwner: 'pkvm.unique-owner',
  sharePairing: 'pkvm.share-pairing',
  hypIsolation: 'pkvm.hyp-isolation',
  donatedUnmapped: 'pkvm.donated-unmapped',
  noContentLeak: 'pkvm.no-content-leak',
  stateCoherence: 'pkvm.state-coherence',
  failedCallNoChange: 'hv.failed-call-no-change',
  noStaleAccess: 'hv.no-stale-access',
  sppSubpageWrite: 'spp.subpage-write',
  xoAliasNotReadable: 'xo.alias-not-readable',
  memattrRespected: 'memattr.respected',
  vtlLowerCannotExceedHigher: 'vtl.lower-cannot-exceed-higher',
  expectedState: 'hv.expected-state',
  pinBalance: 'pkvm.pin-balance',
  poolConservation: 'hv.pool-conservation',
  shareCount: 'pkvm.share-count',
  memcacheConservation: 'pkvm.memcache-conservation',
} as const;

export type HvInvariantId = (typeof HV_INVARIANTS)[keyof typeof HV_INVARIANTS];

export interface HvFinding {
  invariant: HvInvariantId;
  detail: string;
  coarse: string;
}

const hex = (n: number): string => '0x' + n.toString(16);
const stateName = (s: number): string => PAGE_STATE_NAMES[s];

/** One guest EPT leaf mapping a host page, as read from memory. */
interface GuestLeaf {
  vm: Vm;
  view: number;
  gfn: number;
  alias: boolean;
  /** At or above 2^MAXPHYADDR: no guest-physical address, so no leaf may be there. */
  outside: boolean;
  pfn: number;
  state: number;
  rights: number;
}

/**
 * Where a guest frame number lies: guest memory (gfn < hv.gfnLimit), under kvmXo the alias of
 * gfn − aliasGfn (the upper half of the address space), or outside the guest-physical address
 * space (at or above 2^MAXPHYADDR), which is neither.
 */
function placeOf(hv: Hypervisor, g: number): { gfn: number; alias: boolean; outside: boolean } {
  const outside = g >= 2 ** (hv.config.maxPhyAddr - 12);
  const alias = !outside && hv.aliasBit !== 0 && g >= hv.aliasGfn;
  return { gfn: alias ? g - hv.aliasGfn : g, alias, outside };
}

function leafOf(hv: Hypervisor, vm: Vm, view: number, gfnWithAlias: number): GuestLeaf | null {
  const t = vm.views[view];
  if (!t.find(gfnWithAlias * 4096)) return null;
  const { gfn, alias, outside } = placeOf(hv, gfnWithAlias);
  const base = ((t.lo & 0xfffff000) >>> 0) / 4096 + (t.hi & 0xfffff) * 2 ** 20;
  const pfn = t.level === 2 ? base + (gfnWithAlias % 512) : base;
  const rights = (t.lo & AGED_LO) !== 0 ? 0 : t.lo & (7 | UX);
  return { vm, view, gfn, alias, outside, pfn, state: (t.hi & STATE_MASK_HI) >>> STATE_SHIFT_HI, rights };
}

/** Every non-zero leaf of every guest view, by host page. */
function sweepGuestLeaves(hv: Hypervisor): Map<number, GuestLeaf[]> {
  const byPfn = new Map<number, GuestLeaf[]>();
  for (const vm of hv.vms.values()) {
    vm.views.forEach((t, view) => {
      t.forEachLeaf((gpa, level, lo, hi) => {
        const n = level === 2 ? 512 : 1;
        for (let i = 0; i < n; i++) {
          const { gfn, alias, outside } = placeOf(hv, gpa / 4096 + i);
          const pfn = ((lo & 0xfffff000) >>> 0) / 4096 + (hi & 0xfffff) * 2 ** 20 + i;
          const leaf: GuestLeaf = { vm, view, gfn, alias, outside, pfn, state: (hi & STATE_MASK_HI) >>> STATE_SHIFT_HI, rights: (lo & AGED_LO) !== 0 ? 0 : lo & (7 | UX) };
          const list = byPfn.get(pfn);
          if (list === undefined) byPfn.set(pfn, [leaf]);
          else list.push(leaf);
        }
      });
    });
  }
  return byPfn;
}

/** Leaves mapping `pfn`, found through the page records (incremental checks). */
function leavesFromRecords(hv: Hypervisor, pfn: number): GuestLeaf[] {
  const out: GuestLeaf[] = [];
  for (const vm of hv.vms.values()) {
    for (const g of vm.pages.gfnsOf(pfn)) {
      for (let v = 0; v < vm.views.length; v++) {
        const l = leafOf(hv, vm, v, g);
        if (l !== null) out.push(l);
        if (hv.aliasBit !== 0) {
          const a = leafOf(hv, vm, v, g + hv.aliasGfn);
          if (a !== null) out.push(a);
        }
      }
    }
  }
  return out;
}

class Findings {
  readonly list: HvFinding[] = [];
  add(invariant: HvInvariantId, detail: string, coarse: string): void {
    if (this.list.length < 32) this.list.push({ invariant, detail, coarse });
  }
}

/** Ownership of one host page: I1 unique owner, I2 share pairing, I4 hyp isolation, I5 donated unmapped, I8 coherence. */
function checkPage(hv: Hypervisor, pfn: number, leaves: readonly GuestLeaf[], f: Findings): void {
  const hs = hv.hostState(pfn);
  const owner = hv.hostOwner;
  const hostEntry = hv.host.find(pfn * 4096);
  const hostPresent = hostEntry && (hv.host.lo & 7) !== 0;
  const inPool = hv.pool.contains(pfn);
  const p = `pfn ${hex(pfn)}`;
  // A lazily mapped host EPT (arm64 profile) has no entry for an OWNED page the host has not touched yet.
  const notYetMapped = hv.lazyHost && hs === PS_OWNED && !hostEntry;
  if (hostPresent !== (hs !== PS_NOPAGE) && !notYetMapped) {
    f.add(HV_INVARIANTS.stateCoherence, `${p}: host leaf ${hostPresent ? 'present' : 'not present'} with state ${stateName(hs)}`, 'host leaf presence disagrees with its state');
  }
  const primary = leaves.filter((l) => l.view === 0 && !l.alias && !l.outside);
  const owners = primary.filter((l) => l.state === PS_OWNED || l.state === PS_SHARED_OWNED);
  const borrowers = primary.filter((l) => l.state === PS_SHARED_BORROWED);
  if (inPool || (hs === PS_NOPAGE && owner === OWNER_HYP)) {
    if (hostPresent) f.add(HV_INVARIANTS.hypIsolation, `${p}: hyp page mapped in the host EPT`, 'hyp page mapped by the host');
    if (leaves.length > 0) f.add(HV_INVARIANTS.hypIsolation, `${p}: hyp page mapped by VM ${leaves[0].vm.id} at gfn ${hex(leaves[0].gfn)}`, 'hyp page mapped by a guest');
    return;
  }
  if (hs === PS_OWNED || hs === PS_SHARED_OWNED) {
    if (owners.length > 0) f.add(HV_INVARIANTS.uniqueOwner, `${p}: host ${stateName(hs)} and VM ${owners[0].vm.id} ${stateName(owners[0].state)} at gfn ${hex(owners[0].gfn)}`, 'host and a guest both own the page');
  }
  const count = hv.shareCount(pfn);
  if (hs === PS_SHARED_OWNED) {
    // §3 I2 (C1): SHARED_OWNED has three meanings, exactly one of which holds: shared with the
    // hypervisor, with the secure world (FF-A), or with np guests (count > 0).
    const hyp = hv.hypShared.has(pfn) ? 1 : 0;
    const ffa = hv.ffaShared.has(pfn) ? 1 : 0;
    const guests = borrowers.length > 0 ? 1 : 0;
    if (hyp + ffa + guests !== 1) f.add(HV_INVARIANTS.sharePairing, `${p}: host SHARED_OWNED with ${hyp} hyp share(s), ${ffa} FF-A share(s) and ${borrowers.length} guest borrower(s)`, 'SHARED_OWNED without exactly one kind of borrower');
  } else {
    if (borrowers.length > 0) f.add(HV_INVARIANTS.sharePairing, `${p}: VM ${borrowers[0].vm.id} borrows gfn ${hex(borrowers[0].gfn)} while the host is ${stateName(hs)}`, 'SHARED_BORROWED without a SHARED_OWNED host page');
    if (hv.hypShared.has(pfn)) f.add(HV_INVARIANTS.sharePairing, `${p}: shared with the hypervisor while the host is ${stateName(hs)}`, 'hyp share without a SHARED_OWNED host page');
    if (hv.ffaShared.has(pfn)) f.add(HV_INVARIANTS.sharePairing, `${p}: shared through FF-A while the host is ${stateName(hs)}`, 'FF-A share without a SHARED_OWNED host page');
  }
  // §3 I3: the count is the number of np-guest leaves borrowing the page (at most 1 without arm64's multi-share).
  if (count !== borrowers.length) f.add(HV_INVARIANTS.shareCount, `${p}: share count ${count}, ${borrowers.length} guest leaves borrow it`, 'share count differs from the borrowing leaves');
  if (!hv.arm64 && borrowers.length > 1) f.add(HV_INVARIANTS.shareCount, `${p}: ${borrowers.length} guest leaves borrow it under the x86-rfc profile`, 'page shared with several guests without multi-share');
  // §3 I7: a pinned page is shared with the hypervisor, and its refcount is the pins its holders have.
  const pins = hv.pinCount(pfn);
  if (pins > 0 && (hs !== PS_SHARED_OWNED || !hv.hypShared.has(pfn))) f.add(HV_INVARIANTS.pinBalance, `${p}: ${pins} pin(s) while the host is ${stateName(hs)}${hv.hypShared.has(pfn) ? '' : ', not shared with the hypervisor'}`, 'pinned page not shared with the hypervisor');
  let held = 0;
  for (const m of hv.pinsBy.values()) held += m.get(pfn) ?? 0;
  if (held !== pins) f.add(HV_INVARIANTS.pinBalance, `${p}: refcount ${pins}, pins held ${held}`, 'refcount differs from the pins held');
  if (hs === PS_SHARED_BORROWED) {
    const so = owners.filter((l) => l.state === PS_SHARED_OWNED);
    if (so.length !== 1 || owners.length !== 1) f.add(HV_INVARIANTS.sharePairing, `${p}: host SHARED_BORROWED with ${so.length} guest SHARED_OWNED leaves`, 'SHARED_BORROWED host page without one SHARED_OWNED guest');
  } else {
    for (const l of owners) {
      if (l.state === PS_SHARED_OWNED) f.add(HV_INVARIANTS.sharePairing, `${p}: VM ${l.vm.id} SHARED_OWNED at gfn ${hex(l.gfn)} while the host is ${stateName(hs)}`, 'guest SHARED_OWNED without a SHARED_BORROWED host page');
    }
  }
  if (hs === PS_NOPAGE) {
    const mine = owners.filter((l) => l.vm.id === owner);
    if (mine.length !== 1 || owners.length !== 1) f.add(HV_INVARIANTS.uniqueOwner, `${p}: host NOPAGE owner ${owner}, guest owners [${owners.map((l) => l.vm.id).join(',')}]`, 'annotated owner does not own the page');
  }
  for (const l of owners) {
    if (l.state === PS_OWNED && (hs !== PS_NOPAGE || owner !== l.vm.id || hostPresent)) {
      f.add(HV_INVARIANTS.donatedUnmapped, `${p}: VM ${l.vm.id} owns gfn ${hex(l.gfn)} but the host leaf is ${stateName(hs)} owner ${owner}${hostPresent ? ' (present)' : ''}`, 'donated page reachable or not annotated in the host EPT');
    }
  }
}

/** Per leaf: coherence with the page record, XO alias rights, attribute and VTL bounds. */
function checkLeaf(hv: Hypervisor, l: GuestLeaf, f: Findings): void {
  const vm = l.vm;
  if (l.outside) {
    f.add(HV_INVARIANTS.stateCoherence, `VM ${vm.id} view ${l.view} gfn ${hex(l.gfn)}: leaf pfn ${hex(l.pfn)} beyond the guest-physical address space (2^${hv.config.maxPhyAddr})`, 'guest leaf outside the guest-physical address space');
    return;
  }
  const rec = vm.pages.get(l.gfn);
  const at = `VM ${vm.id} view ${l.view} gfn ${hex(l.gfn)}${l.alias ? ' (alias)' : ''}`;
  if (rec === undefined || rec.pfn !== l.pfn || rec.state !== l.state || l.state === PS_NOPAGE) {
    f.add(HV_INVARIANTS.stateCoherence, `${at}: leaf pfn ${hex(l.pfn)} state ${stateName(l.state)}, record ${rec === undefined ? 'none' : `pfn ${hex(rec.pfn)} ${stateName(rec.state)}`}`, 'guest leaf disagrees with the page record');
  }
  if (l.alias && (l.rights & (R | W)) !== 0) f.add(HV_INVARIANTS.xoAliasNotReadable, `${at}: alias leaf rights ${l.rights}`, 'XO alias leaf readable or writable');
  const a = vm.attrs.get(l.gfn) ?? 0;
  const denied = (a & MEMATTR_NR ? R : 0) | (a & MEMATTR_NW ? W : 0) | (a & MEMATTR_NX ? X | UX : 0);
  if ((l.rights & denied) !== 0 || (vm.type === 'protected' && (a & MEMATTR_PRIVATE) === 0 && l.rights !== 0)) {
    f.add(HV_INVARIANTS.memattrRespected, `${at}: leaf rights ${l.rights} with attributes ${hex(a)}`, 'leaf grants what the memory attributes deny');
  }
  for (let s = l.view + 1; s < hv.opts.vtls; s++) {
    const m = vm.vtlProt[s]?.get(l.gfn); // VTL s's protections bind every VTL below it
    if (m !== undefined && (l.rights & ~m) !== 0) {
      f.add(HV_INVARIANTS.vtlLowerCannotExceedHigher, `${at}: leaf rights ${l.rights} exceed VTL ${s}'s protection ${m}`, 'lower VTL leaf exceeds a higher VTL protection');
    }
  }
}

/**
 * What the last op's outcome says about a guest access (SPP, XO, attributes, VTLs), per 128-byte
 * chunk at the guest-physical address the access used (guest paging: `gpaOfLinear`).
 */
function checkAccess(hv: Hypervisor, f: Findings): void {
  const op = hv.lastOp;
  const out = hv.lastOutcome;
  if (op === null || out === null || (op.op !== 'read' && op.op !== 'write' && op.op !== 'fetch')) return;
  const vm = hv.vmOf(op.cpu);
  if (vm === null) return;
  const done = out.kind === 'handled' ? out.then : out;
  const completed = done.kind === 'ok' || done.kind === 'data';
  const sppExit = op.op === 'write' && out.kind === 'hv_exit' && out.exit === 'spp';
  if (!completed && !sppExit) return;
  const view = hv.ctx[op.cpu].vtl;
  const need0 = op.op === 'read' ? R : op.op === 'write' ? W : X;
  // Chunks: 128-byte sub-pages (page offsets agree in linear and guest-physical space); under
  // vtlMbec a fetch from a user-mode linear address needs UX (UMX) instead of X (KMX).
  const chunks: number[] = [];
  const needs: number[] = [];
  for (let b = op.la; b < op.la + op.size; b += 128 - (b % 128)) {
    chunks.push(hv.gpaOfLinear(op.cpu, b % 2 ** 48));
    needs.push(need0 === X && hv.opts.vtlMbec && hv.isUserLinear(op.cpu, b % 2 ** 48) ? UX : need0);
  }
  const need = need0;
  const subDenied = (gpa: number): { denied: boolean; vec: number; gfn: number; sub: number } => {
    const alias = hv.aliasBit !== 0 && gpa >= hv.aliasBit;
    const gfn = Math.floor(gpa / 4096) - (alias ? hv.aliasGfn : 0);
    const sub = Math.floor((gpa % 4096) / 128);
    const vec = vm.sppEnabled ? vm.sppVectors.get(gfn) ?? SPP_ALL_WRITABLE : SPP_ALL_WRITABLE;
    return { denied: ((vec >>> sub) & 1) === 0, vec, gfn, sub };
  };
  if (completed) {
    for (let ci = 0; ci < chunks.length; ci++) {
      const gpa = chunks[ci];
      if (gpa < 0) continue;
      const alias = hv.aliasBit !== 0 && gpa >= hv.aliasBit;
      const { denied, vec, gfn, sub } = subDenied(gpa);
      if (op.op === 'write' && denied) {
        f.add(HV_INVARIANTS.sppSubpageWrite, `write at ${hex(gpa)} completed on protected sub-page ${sub} of gfn ${hex(gfn)} (map ${hex(vec)})`, 'write to a protected sub-page completed');
      }
      if (alias && op.op !== 'fetch') f.add(HV_INVARIANTS.xoAliasNotReadable, `${op.op} of the XO alias at ${hex(gpa)} (la ${hex(op.la)}) completed`, 'XO alias read or written');
      const a = vm.attrs.get(gfn) ?? 0;
      const attrDenies = (need === R && (a & MEMATTR_NR) !== 0) || (need === W && (a & MEMATTR_NW) !== 0) || (need === X && (a & MEMATTR_NX) !== 0)
        || (vm.type === 'protected' && (a & MEMATTR_PRIVATE) === 0);
      if (attrDenies) f.add(HV_INVARIANTS.memattrRespected, `${op.op} at ${hex(gpa)} completed against attributes ${hex(a)}`, 'access completed against the memory attributes');
      for (let s = view + 1; s < hv.opts.vtls; s++) {
        const m = vm.vtlProt[s]?.get(gfn);
        if (m !== undefined && (m & needs[ci]) === 0) {
          f.add(HV_INVARIANTS.vtlLowerCannotExceedHigher, `${op.op} at ${hex(gpa)} by VTL ${view} completed against VTL ${s}'s protection ${m}`, 'access completed against a higher VTL protection');
        }
      }
    }
  }
  if (sppExit) {
    // Only a denial of the data write itself is checked (a guest A/D update to a protected page
    // exits as SPP too: paging-structure writes are never SPP-eligible, ref §3.3).
    if (hv.lastExitFinal && !chunks.some((g) => g >= 0 && subDenied(g).denied)) {
      f.add(HV_INVARIANTS.sppSubpageWrite, `write at ${hex(op.la)} to writable sub-pages ended in KVM_EXIT_SPP`, 'write to writable sub-pages denied');
    }
  }
}

/** I10: no logical processor keeps a cached translation with more rights than the leaf now gives. */
function checkStale(hv: Hypervisor, f: Findings): void {
  const r = hv.reduced;
  for (let i = 0; i + 1 < hv.reducedCount; i += 2) {
    const root = r[i];
    const page = r[i + 1];
    const tables = root === hv.host.root ? hv.host : [...hv.vms.values()].flatMap((v) => v.views).find((t) => t.root === root);
    let allowed = 0;
    if (tables !== undefined && tables.find(page * 4096) && (tables.lo & AGED_LO) === 0) allowed = tables.lo & (7 | UX);
    const allowedT = (allowed & R ? T_R : 0) | (allowed & W ? T_W : 0) | (allowed & X ? T_X : 0) | (allowed & UX ? T_XU : 0);
    for (const v of hv.machine.vcpus) {
      const slot = v.gtlb.find(root * 4096, page);
      if (slot < 0) continue;
      const bits = v.gtlb.bitsAt(slot) & (T_R | T_W | T_X | T_XU);
      if ((bits & ~allowedT) !== 0) {
        f.add(HV_INVARIANTS.noStaleAccess, `cpu ${v.index} still caches gpa page ${hex(page)} with rights ${bits} after they were reduced to ${allowedT}`, 'stale translation after a reduction');
      }
    }
  }
}

/** An `hv_expect` op: the state the hypervisor reports must be the one the trace wrote down. */
function checkExpected(hv: Hypervisor, f: Findings): void {
  const op = hv.lastOp;
  const out = hv.lastOutcome;
  if (op === null || op.op !== 'hv_expect' || out === null || out.kind !== 'page') return;
  const p = out.page;
  const wrong: string[] = [];
  if (p.host !== op.host) wrong.push(`host ${p.host} (expected ${op.host})`);
  if (p.owner !== op.owner) wrong.push(`owner ${p.owner} (expected ${op.owner})`);
  if (p.hyp !== op.hyp) wrong.push(`hyp ${p.hyp} (expected ${op.hyp})`);
  if (p.pins !== op.pins) wrong.push(`pins ${p.pins} (expected ${op.pins})`);
  if (p.shares !== op.shares) wrong.push(`shares ${p.shares} (expected ${op.shares})`);
  if (p.guest !== op.guest) wrong.push(`guest ${p.guest} (expected ${op.guest})`);
  const vtl0 = p.vtl.length > 0 ? p.vtl[0] : 0;
  if (vtl0 !== op.vtl0) wrong.push(`vtl0 ${vtl0} (expected ${op.vtl0})`);
  if (wrong.length === 0) return;
  const fields = wrong.map((w) => w.split(' ')[0]).join(', ');
  f.add(HV_INVARIANTS.expectedState, `pfn ${hex(op.pfn)}, VM ${op.vm} gfn ${hex(op.gfn)}: ${wrong.join('; ')}`, `state differs from the trace's expectation: ${fields}`);
}

/**
 * Every frame of the hypervisor's pool is exactly one of: free, a table of the host EPT or of a
 * VM's EPT view (reachable from its root in memory), or a frame of a VM's SPPT. A table page
 * leaked at teardown is neither free nor reachable; one handed out twice is both.
 */
function checkPool(hv: Hypervisor, f: Findings): void {
  const owner = new Map<number, string>();
  const claim = (frame: number, who: string): void => {
    const had = owner.get(frame);
    if (!hv.pool.contains(frame)) f.add(HV_INVARIANTS.poolConservation, `${who} uses frame ${hex(frame)} outside the pool`, 'table frame outside the pool');
    else if (had !== undefined) f.add(HV_INVARIANTS.poolConservation, `frame ${hex(frame)} is both ${had} and ${who}`, 'pool frame used twice');
    owner.set(frame, who);
  };
  for (const fr of hv.pool.freeFrames()) claim(fr, 'free');
  for (const fr of hv.host.reachableTables()) claim(fr, 'a host EPT table');
  for (const vm of hv.vms.values()) {
    // Tables from the VM's memory cache are host pages, accounted for by checkMemcache.
    vm.views.forEach((t, v) => { for (const fr of t.reachableTables()) if (!vm.cache.inUse.has(fr)) claim(fr, `a table of VM ${vm.id} view ${v}`); });
    for (const fr of vm.spptFrames) claim(fr, `an SPPT frame of VM ${vm.id}`);
    // Every vCPU's cache pages are host pages the host donated: none may be a pool frame.
    vm.cache.free.forEach((list, c) => {
      for (const fr of list) if (hv.pool.contains(fr)) f.add(HV_INVARIANTS.poolConservation, `pool frame ${hex(fr)} is a free page of VM ${vm.id} vCPU ${c}'s memory cache`, 'pool frame in a memory cache');
    });
    for (const fr of vm.cache.inUse) if (hv.pool.contains(fr)) f.add(HV_INVARIANTS.poolConservation, `pool frame ${hex(fr)} is a memory-cache table of VM ${vm.id}`, 'pool frame in a memory cache');
  }
  const lost: number[] = [];
  for (let fr = hv.pool.first; fr < hv.pool.end; fr++) if (!owner.has(fr)) lost.push(fr);
  if (lost.length > 0) f.add(HV_INVARIANTS.poolConservation, `${lost.length} pool frame(s) neither free nor in any table: ${lost.slice(0, 4).map(hex).join(', ')}`, 'pool frames leaked');
}

/**
 * hv.memcache 'vm': every page of a vCPU's memory cache is the hypervisor's (host NOPAGE, owner
 * hyp), in exactly one cache (one vCPU's free list, or its VM's tables), either free or a table
 * reachable in that VM's views, and every table
 * of a view is a pool frame or a page of its own cache; every RAM page the hypervisor holds is in
 * a cache or was donated to it (host_donate_hyp). A page donated on the way into a cache that no
 * cache holds, or a page undonated while a table uses it, breaks one of these.
 */
function checkMemcache(hv: Hypervisor, f: Findings): void {
  if (!hv.memcacheVm) return;
  const holder = new Map<number, string>();
  for (const vm of hv.vms.values()) {
    const reachable = new Set<number>();
    for (const t of vm.views) for (const fr of t.reachableTables()) reachable.add(fr);
    const pages: Array<[number, number]> = [...vm.cache.free.flatMap((list, c) => list.map((fr): [number, number] => [fr, c])), ...[...vm.cache.inUse].map((fr): [number, number] => [fr, -1])];
    for (const [fr, c] of pages) {
      const used = c < 0;
      const who = used ? `VM ${vm.id}'s cache (table)` : `VM ${vm.id} vCPU ${c}'s cache (free)`;
      const had = holder.get(fr);
      if (had !== undefined) f.add(HV_INVARIANTS.memcacheConservation, `pfn ${hex(fr)} is in ${had} and ${who}`, 'cache page held twice');
      holder.set(fr, who);
      const hs = hv.hostState(fr);
      if (hs !== PS_NOPAGE || hv.hostOwner !== OWNER_HYP || hv.hypDonated.has(fr)) {
        f.add(HV_INVARIANTS.memcacheConservation, `pfn ${hex(fr)} in ${who} while the host state is ${stateName(hs)} owner ${hv.hostOwner}`, 'cache page not the hypervisor\'s');
      }
      if (used && !reachable.has(fr)) f.add(HV_INVARIANTS.memcacheConservation, `pfn ${hex(fr)} in ${who} is no table of its views`, 'cache table page unreachable');
    }
    for (const fr of reachable) {
      if (!hv.pool.contains(fr) && !vm.cache.inUse.has(fr)) f.add(HV_INVARIANTS.memcacheConservation, `VM ${vm.id} uses pfn ${hex(fr)} as a table, neither a pool frame nor a page of its cache`, 'table page from nowhere');
    }
  }
  for (let pfn = 0; pfn < hv.ramFrames; pfn++) {
    if (holder.has(pfn) || hv.hypDonated.has(pfn)) continue;
    if (hv.hostState(pfn) === PS_NOPAGE && hv.hostOwner === OWNER_HYP) {
      f.add(HV_INVARIANTS.memcacheConservation, `pfn ${hex(pfn)} is the hypervisor's but in no cache and never donated to it`, 'hypervisor page in no cache');
    }
  }
}

export function checkHvInvariants(hv: Hypervisor, full: boolean): HvFinding[] {
  const f = new Findings();
  if (!full) checkExpected(hv, f); // once, after the op (a sweep re-reads no op)
  const out = hv.lastOutcome;
  // A guest access is not a call: exits it handled before one that failed may rightly stay done.
  const access = hv.lastOp?.op === 'read' || hv.lastOp?.op === 'write' || hv.lastOp?.op === 'fetch';
  const failed = !access && out !== null && ((out.kind === 'ret' && (out.value < 0 || (hv.lastOp?.op === 'vtl_protect' && out.value !== 0))) || out.kind === 'ud');
  if (failed && hv.mutations !== hv.mutationsAtStart) {
    f.add(HV_INVARIANTS.failedCallNoChange, `${hv.lastOp?.op} failed (${out.kind === 'ret' ? out.value : out.kind}) after changing state`, 'failed call changed state');
  }
  for (const pfn of hv.returnedPrivate) {
    const bytes = hv.machine.mem.frameBytes(pfn);
    if (bytes !== null && bytes.some((b) => b !== 0)) f.add(HV_INVARIANTS.noContentLeak, `pfn ${hex(pfn)} returned to the host from private guest memory without zeroing`, 'private page returned unzeroed');
  }
  checkStale(hv, f);
  checkAccess(hv, f);
  if (full) {
    checkPool(hv, f);
    checkMemcache(hv, f);
    const byPfn = sweepGuestLeaves(hv);
    for (let pfn = 0; pfn < hv.config.framesMax; pfn++) {
      const leaves = byPfn.get(pfn) ?? [];
      checkPage(hv, pfn, leaves, f);
      for (const l of leaves) checkLeaf(hv, l, f);
    }
    // §3 I7 leak check: every pin belongs to the hypervisor (1) or a VM that still exists.
    for (const [holder, m] of hv.pinsBy) {
      if (holder !== 1 && !hv.vms.has(holder) && m.size > 0) f.add(HV_INVARIANTS.pinBalance, `VM ${holder} is gone but holds pins on ${[...m.keys()].map(hex).join(', ')}`, 'pins leaked past teardown');
    }
    for (const vm of hv.vms.values()) {
      for (const g of vm.poisoned) {
        if (vm.pages.has(g) || vm.views[0].find(g * 4096)) f.add(HV_INVARIANTS.stateCoherence, `VM ${vm.id} gfn ${hex(g)}: poisoned but mapped`, 'poisoned gfn still mapped');
      }
      for (const [g, r] of vm.pages) {
        const l = leafOf(hv, vm, 0, g);
        if (l === null || l.pfn !== r.pfn) f.add(HV_INVARIANTS.stateCoherence, `VM ${vm.id} gfn ${hex(g)}: record pfn ${hex(r.pfn)} has no matching view-0 leaf`, 'page record without a leaf');
      }
    }
  } else {
    const pfns = new Set(hv.touchedPfns);
    for (const key of new Set(hv.touchedGfnKeys.slice(0, hv.touchedGfnCount))) {
      const id = Math.floor(key / 2 ** 40);
      const g = key - id * 2 ** 40;
      const vm = hv.vms.get(id);
      if (vm === undefined) continue;
      const { gfn } = placeOf(hv, g);
      const rec = vm.pages.get(gfn);
      if (rec !== undefined) pfns.add(rec.pfn);
      for (let v = 0; v < vm.views.length; v++) {
        const l = leafOf(hv, vm, v, g);
        if (l !== null) {
          pfns.add(l.pfn);
          checkLeaf(hv, l, f);
        }
      }
    }
    for (const pfn of pfns) checkPage(hv, pfn, leavesFromRecords(hv, pfn), f);
  }
  return f.list;
}
