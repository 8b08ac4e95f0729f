/**
 * `eptfuzz explain` says why: on committed crashes (crashes/, fixed inputs, no randomness) it
 * decodes the walk entry that decided with the rule and its source, every allowed outcome with its
 * rule, and the failing step's difference in named bits; a lost write is named as the table entry
 * and flag it is, not as a host address; in hv mode the pages' states before and after, and a
 * guest access's walk through the hypervisor's mappings.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { cli } from './helpers.js';

function crashWith(summaryPart: string): string {
  for (const d of readdirSync('crashes')) {
    const desc = JSON.parse(readFileSync(`crashes/${d}/description.json`, 'utf8')) as { summary: string };
    if (desc.summary.includes(summaryPart)) return `crashes/${d}/repro.msgpack`;
  }
  throw new Error(`no committed crash with ${summaryPart}`);
}

describe('ExplainNamesTheRule', () => {
  it('an EPT misconfiguration: the entry that decided, the rule with its source, both outcomes decoded', async () => {
    const r = await cli(['explain', crashWith('ept.misconfig -> ept violation'), '--step', '1']);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('decided at: EPT L4 @hpa 0x0 = 0x2002 [W]');
    expect(r.stdout).toContain('rule ept.misconfig.write-without-read: a present EPT entry with W = 1 and R = 0');
    expect(r.stdout).toContain('SDM Vol. 3C "EPT Misconfigurations"');
    expect(r.stdout).toContain('target: kvm_exit: reason EPT_VIOLATION (48)');
    expect(r.stdout).toMatch(/model: {2}kvm_exit: reason EPT_MISCONFIG \(49\)/);
  });

  it('a lost A flag is named as the guest entry and flag, with the PK dispute decoded', async () => {
    const r = await cli(['explain', crashWith('pk.pks.wd-wp0'), '--step', '9']);
    expect(r.stdout).toContain('rule in dispute pk.pks.wd-wp0');
    expect(r.stdout).toMatch(/memory: the guest L4 PML4E for la 0x[0-9a-f]+: its A flag \(bit 5\)/);
  });

  it('hv mode, a guest access: its guest walk through the hypervisor\'s mappings (memslot gfn 0x200 -> pfn 0x400) and the final page\'s state', async () => {
    const r = await cli(['explain', 'test/e2e/fixtures/hv-guest-walk.txt', '--step', '31']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('part la 0x40003b97 size 8, vm 2 at VTL 0, cr3 0x5f0000:');
    expect(r.stdout).toContain('guest L4 gpa 0x5f0000 @hpa 0x7f0000 = 0x5f1007 [P RW US]');
    expect(r.stdout).toContain('guest L1 gpa 0x203018 @hpa 0x403018 = 0x2000003ff005 [P US]');
    expect(r.stdout).toContain('final gpa 0x2000003ffb97, the XO alias -> hpa 0x5ffb97 (pfn 0x5ff: SB, prot 7)');
    expect(r.stdout).toContain('rule hv.access.write.pf');
  });

  it('a #PF error-code difference names the differing bits; --json gives the same facts', async () => {
    const file = crashWith('xo.kvm.pf');
    const r = await cli(['explain', file, '--step', '7']);
    expect(r.stdout).toContain('#PF error code: target 0x1 [P], model 0x5 [P|U]; differing: U');
    const j = await cli(['explain', file, '--step', '7', '--json']);
    const rec = JSON.parse(j.stdout.trim()) as { step: number; violations: Array<{ rule: { id: string }; difference: string[] }> };
    expect(rec.step).toBe(7);
    expect(rec.violations[0].rule.id).toBe('xo.kvm.pf');
    expect(rec.violations[0].difference[0]).toContain('differing: U');
  });

  it('hv mode: page states before and after, the transition rule, and no -ENOMEM offered where the pool has room', async () => {
    const r = await cli(['explain', crashWith('pkvm.no-content-leak'), '--step', '7']);
    expect(r.stdout).toMatch(/pages before: vm 3 \(dying\) gfn 0x2: O pfn 0x41/);
    expect(r.stdout).toContain('pages after:  vm 3 (dying) gfn 0x2: no page');
    expect(r.stdout).toContain('rule pkvm.vm_reclaim.ok');
    // The pool is counted exactly (docs/hypervisor.md "The page pool"): a reclaim needing no table
    // page has one outcome, not "or -ENOMEM".
    expect(r.stdout).not.toContain('rule pkvm.vm_reclaim.enomem');
  });

  it('a step out of range is one line, exit 2; replay points at explain', async () => {
    const file = crashWith('xo.kvm.pf');
    const r = await cli(['explain', file, '--step', '999']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    const rp = await cli(['replay', file]);
    expect(rp.stdout).toContain(`why: eptfuzz explain ${file} --step 7`);
  });
});
