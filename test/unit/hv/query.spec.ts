/**
 * State you can see: hv_query reports host, hyp and guest states, owner, pins, shares, attributes
 * and per-VTL rights; the reference model computes the same view (a disagreement is an outcome
 * mismatch); hv_expect turns a written-down state into the invariant hv.expected-state.
 */
import { describe, expect, it } from 'vitest';
import type { AnyOp } from '../../../src/trace/ops.js';
import { classifyOutcome } from '../../../src/check/checkers.js';
import type { PageView } from '../../../src/hw/outcome.js';
import { mutateHv } from '../../../src/gen/hv/mutate.js';
import { Rng } from '../../../src/gen/rng.js';
import { NP_SETUP, PVM_SETUP, clean, hvConfig, run } from './helpers.js';

const q = (vm: number, pfn: number, gfn: number): AnyOp => ({ op: 'hv_query', vm, pfn, gfn });
const pageOf = (o: unknown): PageView => {
  const x = o as { kind: string; page: PageView };
  expect(x.kind).toBe('page');
  return x.page;
};

describe('hv_query', () => {
  it('reports each party of a page through share, donation and guest share', () => {
    const outs = clean([
      { op: 'vm_create', vm: 2, type: 'np' },
      { op: 'host_share_guest', vm: 2, pfn: 0x10, gfn: 0x20, nr: 1, prot: 3 },
      q(2, 0x10, 0x20),
      { op: 'host_share_hyp', pfn: 0x11 },
      q(1, 0x11, 0),
      { op: 'host_donate_hyp', pfn: 0x12, nr: 1n },
      q(1, 0x12, 0),
      ...PVM_SETUP,
      q(3, 0x20, 5),
      { op: 'guest_share_host', cpu: 0, gfn: 5 },
      q(3, 0x20, 5),
      q(1, 0x1f00, 0), // a pool page
      q(1, 0x2000, 0), // beyond the machine's frames: not memory
    ]);
    const views = outs.filter((o) => o.kind === 'page').map(pageOf);
    expect(views[0]).toMatchObject({ host: 'SO', owner: 1, hyp: 'NOPAGE', shares: 1, guests: [{ vm: 2, gfn: 0x20, state: 'SB' }], guest: 'SB', gpfn: 0x10, vtl: [3, 3] });
    expect(views[1]).toMatchObject({ host: 'SO', owner: 1, hyp: 'SB', shares: 0, guests: [], guest: 'none', gpfn: -1, vtl: [] });
    expect(views[2]).toMatchObject({ host: 'NOPAGE', owner: 0, hyp: 'O' });
    expect(views[3]).toMatchObject({ host: 'NOPAGE', owner: 3, hyp: 'NOPAGE', guest: 'O', attrs: 8, vtl: [7, 7] });
    expect(views[4]).toMatchObject({ host: 'SB', owner: 3, guest: 'SO', guests: [{ vm: 3, gfn: 5, state: 'SO' }] });
    expect(views[5]).toMatchObject({ host: 'NOPAGE', owner: 0, hyp: 'O' });
    expect(views[6]).toMatchObject({ host: 'NOPAGE', owner: -1, hyp: 'NOPAGE' });
  });

  it('reports memory attributes and what each VTL may do at a gfn', () => {
    const outs = clean([
      ...NP_SETUP,
      { op: 'read', cpu: 0, la: 0x201000, size: 8 },
      { op: 'set_mem_attrs', vm: 2, gpa: 0x201000n, size: 0x1000n, attrs: 4n, flags: 0n },
      { op: 'vtl_call', cpu: 0 },
      { op: 'vtl_protect', cpu: 0, target: 1, gfn: 0x201, count: 1, flags: 0x1 },
      q(2, 0x401, 0x201),
    ], hvConfig({ hv: { vtls: 3 } }));
    expect(pageOf(outs[outs.length - 1])).toMatchObject({ host: 'SO', guest: 'SB', gpfn: 0x401, attrs: 4, vtl: [1, 3, 3] });
  });
});

describe('hv_expect', () => {
  const setup: AnyOp[] = [{ op: 'vm_create', vm: 2, type: 'np' }, { op: 'host_share_guest', vm: 2, pfn: 0x10, gfn: 0x20, nr: 1, prot: 7 }];
  it('passes when the state is the one written down', () => {
    clean([...setup, { op: 'hv_expect', vm: 2, pfn: 0x10, gfn: 0x20, host: 'SO', owner: 1, hyp: 'NOPAGE', pins: 0, shares: 1, guest: 'SB', vtl0: 7 }]);
  });
  it('fails with hv.expected-state naming each wrong field', () => {
    const r = run([...setup, { op: 'hv_expect', vm: 2, pfn: 0x10, gfn: 0x20, host: 'O', owner: 1, hyp: 'NOPAGE', pins: 0, shares: 0, guest: 'SB', vtl0: 7 }]);
    // signatures are in rule terms (docs/rules.md): the rule of the step, then what differs
    expect(r.violations.map((v) => [v.invariant, v.coarse])).toEqual([['hv.expected-state', "state.hv_expect.page: state differs from the trace's expectation: host, shares"]]);
  });
});

describe('a page view the model does not share', () => {
  it('is an outcome mismatch whose coarse detail names the differing fields', () => {
    const view: PageView = { host: 'O', owner: 1, hyp: 'NOPAGE', pins: 0, shares: 0, ffa: false, guests: [], guest: 'none', gpfn: -1, attrs: 0, vtl: [], cache: [], cacheTables: 0, pool: 5 };
    const f = classifyOutcome({ kind: 'page', page: { ...view, host: 'SO', pins: 1 } }, { allowed: [{ outcome: { kind: 'page', page: view } }], flushed: [] } as never);
    expect(f.invariant).toBe('fault.exit-reason');
    expect(f.coarse).toMatch(/ -> page state \(host, pins differ\)$/);
    expect(f.detail).toMatch(/^page state differs: host, pins; /);
  });
});

describe('mutating a seed with expectations', () => {
  it('keeps the observation and drops the assertion', () => {
    const ops: AnyOp[] = [{ op: 'hv_expect', vm: 2, pfn: 0x10, gfn: 0x20, host: 'SO', owner: 1, hyp: 'NOPAGE', pins: 0, shares: 1, guest: 'SB', vtl0: 7 }];
    for (let i = 0; i < 20; i++) {
      const child = mutateHv(ops, ops, new Rng(`q/${i}`), { opsMax: 50, config: hvConfig() }).ops;
      expect(child.some((o) => o.op === 'hv_expect')).toBe(false);
    }
  });
});

describe('per-step state records (replay --json)', () => {
  it('list the host pages each step touched, with their state after it', async () => {
    const { runWith } = await import('../../../src/check/runner.js');
    const { HV_TARGET } = await import('../../../src/check/targets.js');
    const ops: AnyOp[] = [
      { op: 'vm_create', vm: 2, type: 'np' },
      { op: 'host_share_guest', vm: 2, pfn: 0x10, gfn: 0x20, nr: 1, prot: 7 },
      { op: 'host_share_hyp', pfn: 0x10 }, // refused: touches nothing
    ];
    const r = runWith({ schema: 2, eptfuzz: '0.1.0', machine: hvConfig(), ops }, HV_TARGET, { records: true });
    const states = (r.records ?? []).map((x) => x.states);
    expect(states[1]).toEqual([{ pfn: 0x10, host: 'SO', owner: 1, hyp: 'NOPAGE', pins: 0, shares: 1, ffa: false, guests: [{ vm: 2, gfn: 0x20, state: 'SB' }] }]);
    expect(states[2]).toEqual([]);
  });
});
