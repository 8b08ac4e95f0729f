/**
 * The planted-bug catalogue: known defect classes that a configuration can switch on.
 * Contract: names are stable (traces and crash directories record them); each entry says which
 * layer implements it and where the defect class comes from. A planted bug costs nothing when off:
 * the machine reads these flags once, at construction, into plain booleans.
 */

export interface PlantedBug {
  name: string;
  layer: 'hw' | 'hv';
  /** What goes wrong, and the real bug class it reproduces (with its public source). */
  doc: string;
  /**
   * What a campaign with only this bug on reports first (test/quality, `npm run bench:bugs`):
   * the invariant ids its signature may name, the op kinds it is seen at, and why the bug's
   * nature makes them the right ones. The first check that can see the defect wins: the
   * differential outcome checks run before the hypervisor invariants, so a wrong return value is
   * `fault.exit-reason` at the faulty call even when an ownership invariant would also fire.
   */
  finds: {
    invariant: readonly string[];
    /** Op classes (src/check/classify.ts opClass: guest accesses are `access`). */
    op: readonly string[];
    /**
     * The rule groups in dispute its signatures name (docs/rules.md "Signatures"): one, or two
     * where the bug breaks two rules (`why` says which); measured in docs/rules.md "Planted bugs".
     */
    rules: readonly string[];
    /** More than two signatures, measured and explained in `why` (default 2). */
    signaturesMax?: number;
    why: string;
  };
}

const ACCESS = ['access'] as const;

export const CATALOGUE: readonly PlantedBug[] = [
  { name: 'canary', layer: 'hw', doc: 'A 2-byte write that crosses a 4 KiB boundary drops its last byte. Must always be found within a second: proves the pipeline catches failures (TigerBeetle canary).',
    finds: { invariant: ['mem.no-lost-write'], op: ACCESS, rules: ['access.write.complete', 'ept.ad.update'], why: 'the write completes but one byte never reaches memory: only the frame compare after the write can see it, filed under the rule that writes data bytes; rarely (1 of 21 hits at seed m1) the first difference in the frame is an EPT A bit the same write set, and the finding names ept.ad.update' } },
  { name: 'pks-wd-ignores-cr0wp', layer: 'hw', doc: 'WD blocks supervisor writes even with CR0.WP = 0 (the SDM 4.6.1/4.6.2 confusion noted in the KVM PKS series).',
    finds: { invariant: ['fault.pf-error-code'], op: ACCESS, rules: ['pk.pks.wd-wp0', 'pk.pks.ad'], why: 'a supervisor write that the WD exemption (CR0.WP = 0) lets through takes a PK #PF: the key verdict differs at pk.pks.wd-wp0; when the write crosses into a page whose key has AD, both sides fault with PK but on different parts (CR2), filed under pk.pks.ad' } },
  { name: 'pkey-reg-by-cpl', layer: 'hw', doc: 'PKRU/PKRS chosen by CPL instead of the page\'s U/S (fixed in Bochs commit 72d55ca09).',
    finds: { invariant: ['fault.pf-error-code', 'fault.exit-reason'], op: ACCESS, rules: ['pk.register-by-address', 'pk.bit-with-ordinary-denial'], why: 'data accesses are judged by the register of the CPL: the PK verdict is the other register\'s (pk.register-by-address); a CPL 3 access to a supervisor page, which also breaks U/S, loses PK exactly as a machine that drops PK on an ordinary denial would (pk.bit-with-ordinary-denial): the outcome cannot tell the two apart' } },
  { name: 'pk-on-fetch', layer: 'hw', doc: 'Protection keys applied to instruction fetches.',
    finds: { invariant: ['fault.pf-error-code'], op: ACCESS, rules: ['pk.fetch-exempt'], why: 'only fetches change: a fetch takes a PK #PF, or its #PF gains PK, where keys never apply' } },
  { name: 'spp-subpage-cross', layer: 'hw', doc: 'A write spanning two sub-pages checks only the first (Bochs SPP issue #1).',
    finds: { invariant: ['fault.exit-reason'], op: ACCESS, rules: ['spp.subpage-denied'], why: 'the second sub-page of a crossing write is never checked: the write completes (or faults later) where the SPP violation (exit 48) is required' } },
  { name: 'spp-odd-bits-ignored', layer: 'hw', doc: 'Reserved odd bits of an SPPT leaf are not treated as a misconfiguration.',
    finds: { invariant: ['fault.exit-reason'], op: ACCESS, rules: ['spp.misconfig'], why: 'an SPPT leaf with a reserved odd bit must give the SPPT misconfiguration exit (66) on a write to the page; the machine goes on to an ordinary outcome' } },
  { name: 'ept-gla-bits-wrong', layer: 'hw', doc: 'Qualification bits 7/8 computed from the wrong condition (KVM fix d0164c161923 "Fix check for valid GVA on an EPT violation").',
    finds: { invariant: ['fault.ept-qualification'], op: ACCESS, rules: ['ept.violation'], why: 'the exit reason is right and only qualification bits 7/8 (GLA valid, translation) are wrong' } },
  { name: 'ept-misconfig-priority', layer: 'hw', doc: 'A permission denial at an upper EPT level is reported before a misconfiguration below it.',
    finds: { invariant: ['fault.exit-reason', 'fault.ept-qualification'], op: ACCESS, rules: ['ept.misconfig', 'ept.violation'], why: 'a denial at an upper EPT level is reported as a violation (exit 48) where the misconfiguration below it (exit 49) is required; when a violation is required anyway (a lower entry not present), the early report carries the upper level\'s rights in its qualification' } },
  { name: 'invept-keeps-combined', layer: 'hw', doc: 'Single-context INVEPT leaves combined mappings in the TLB.',
    finds: { invariant: ['tlb.stale-after-flush'], op: ACCESS, rules: ['tlb.invept.single'], why: 'after a single-context INVEPT the machine still answers from a combined mapping the flush removed: an outcome only a flushed translation gives, or the outcome a fresh walk gives but with the memory effects of the flushed translation (no A/D updates, or the write in the old frame): both are tlb.stale-after-flush, flushed by tlb.invept.single' } },
  { name: 'xo-pf-no-user-bit', layer: 'hw', doc: 'The XO #PF is injected without U/S for a CPL 3 access.',
    finds: { invariant: ['fault.pf-error-code'], op: ACCESS, rules: ['xo.kvm.pf'], why: 'the XO #PF is the right outcome with the wrong error code: U/S is missing for a CPL 3 read or write through the execute-only alias' } },
  { name: 'pkvm-hyp-donate-no-owner-check', layer: 'hv', doc: 'hyp_donate_host accepts a page whose host entry is NOPAGE with any owner (or SHARED_BORROWED): the x86 pKVM RFC\'s host_ack_donation gap (intel-staging/pKVM-IA PR #49 and PR #58 owner-id checks), so a guest\'s page reaches the host.',
    finds: { invariant: ['fault.exit-reason'], op: ['hyp_donate_host'], rules: ['pkvm.hyp_donate_host.eperm'], why: 'hyp_donate_host returns 0 where the owner check requires -EPERM: the return value differs at the faulty call (pkvm.unique-owner would fire after it)' } },
  { name: 'pkvm-share-hyp-shared-page', layer: 'hv', doc: 'host_share_guest accepts a page the host shared with the hypervisor (H=SO with no guest count): the overloaded SO state (intel-staging/pKVM-IA PR #43 review, pointing at arm64\'s share count check).',
    finds: { invariant: ['fault.exit-reason'], op: ['host_share_guest', 'access'], rules: ['pkvm.host_share_guest.eperm', 'hv.access.memory_fault'], why: 'the share check (shareable) accepts a page shared with the hypervisor: host_share_guest returns 0 where -EPERM is required, and a np guest access to a memslot page the host shared with the hypervisor is mapped on demand by the same check where the memory-fault exit is required (hv.access.memory_fault: 42 % of the hits in a 2-minute campaign at seed m10, docs/rules.md "Planted bugs"); each rule shows under two signatures, the call or access succeeding or going on to fail with -ENOMEM for want of a pool page, so the bug measures four signatures where two are allowed' } },
  { name: 'pkvm-unshare-no-flush', layer: 'hv', doc: 'host_unshare_guest skips the TLB flush, so the guest still reaches the page through a stale translation (the class fixed by "KVM: arm64: Introduce __pkvm_tlb_flush_vmid()").',
    finds: { invariant: ['hv.no-stale-access'], op: ['host_unshare_guest'], rules: ['pkvm.host_unshare_guest.ok'], why: 'after the unshare a cpu still caches a translation with rights the leaf no longer grants' } },
  { name: 'pkvm-reclaim-no-zero', layer: 'hv', doc: 'Reclaiming a private page of a protected guest skips zeroing: its content leaks to the host (pKVM hyp_zero_page / hyp_poison_page on reclaim).',
    finds: { invariant: ['pkvm.no-content-leak'], op: ['vm_reclaim'], rules: ['pkvm.vm_reclaim.ok'], why: "the reclaimed private page keeps the guest's bytes: the frame compare after vm_reclaim and the leak invariant both fire; the finding is filed under the more specific pkvm.no-content-leak" } },
  { name: 'pkvm-range-overflow', layer: 'hv', doc: 'pfn + nr is checked in wrapping 64-bit arithmetic, so a wrapping range passes the checks and the transition runs on unchecked pages ("[PATCH v3] KVM: arm64: Check range args for pKVM mem transitions", Oct 2025).',
    finds: { invariant: ['fault.exit-reason'], op: ['host_donate_hyp', 'hyp_donate_host'], rules: ['pkvm.host_donate_hyp.einval', 'pkvm.hyp_donate_host.einval'], why: 'a wrapping pfn + nr passes the range check: the call does not return the required -EINVAL' } },
  { name: 'pkvm-enomem-half-done', layer: 'hv', doc: 'host_donate_guest changes the host entry before the guest map can fail with -ENOMEM (no memcache pre-check), leaving the page lost (the arm64 pKVM mutate-then-fail class, fixed by checking the memcache first: __guest_check_pgtable_memcache).',
    finds: { invariant: ['hv.failed-call-no-change'], op: ['host_donate_guest'], rules: ['pkvm.host_donate_guest.enomem'], why: 'host_donate_guest fails with -ENOMEM after changing the host entry: a failed call changed state' } },
  { name: 'spp-lost-on-wrprotect', layer: 'hv', doc: 'Write-protection (dirty logging) or access tracking drops EPT bit 61 for good instead of saving it in a software bit and restoring it (KVM SPP series v5 7/9, v12 "free bit to store SPP bit").',
    finds: { invariant: ['fault.exit-reason', 'spp.subpage-write'], op: ACCESS, rules: ['hv.access.spp', 'hv.access.completes'], why: 'after dirty logging or aging restores the leaf without bit 61, a write to a protected sub-page completes where the SPP exit is required (hv.access.spp), or completes without the SPP-related exit the fault path must take (hv.access.completes, exits missing 66)' } },
  { name: 'spp-hugepage-not-split', layer: 'hv', doc: 'KVM_SUBPAGES_SET_ACCESS inside a 2 MiB EPT leaf leaves the huge leaf in place, so the page stays unprotected (KVM SPP series v12: a protected page\'s 2 MiB mapping must be split).',
    finds: { invariant: ['fault.exit-reason', 'spp.subpage-write'], op: ACCESS, rules: ['hv.access.spp', 'hv.access.completes'], signaturesMax: 3, why: 'the 2 MiB leaf stays in place, so the first access to the protected page differs: no SPP exit (hv.access.spp), or an access that completes through other exits than the fault-time split and re-map the model requires (hv.access.completes): with an extra EPT-violation exit, or without the SPP-miss exit (66) that builds the SPPT, which is also how spp-lost-on-wrprotect shows; three signatures at seed m1 (3, 2 and 1 hits in 60 runs)' } },
  { name: 'memattr-partial-update', layer: 'hv', doc: 'KVM_SET_MEMORY_ATTRIBUTES stores entry by entry without reserving first and returns -ENOMEM with a prefix changed (early versions of "KVM: Introduce per-page memory attributes"; the merged one reserves up front).',
    finds: { invariant: ['hv.failed-call-no-change'], op: ['set_mem_attrs'], rules: ['memattr.set_mem_attrs.enomem'], why: 'set_mem_attrs returns -ENOMEM with a prefix of the range stored: a failed call changed state' } },
  { name: 'vtl-protect-no-flush', layer: 'hv', doc: 'HvCallModifyVtlProtectionMask returns before flushing the other vCPUs\' TLBs, so a lower VTL still uses the old rights (Hyper-V TLFS: the new protections are visible to all VPs when the hypercall returns).',
    finds: { invariant: ['hv.no-stale-access'], op: ['vtl_protect'], rules: ['vtl.vtl_protect.ok'], why: 'the call returns while another cpu still caches a translation with the rights the new protection removed' } },
  { name: 'hv-teardown-table-leak', layer: 'hv', doc: "vm_teardown_finish gives back the EPT tables of VTL 0's view only: the other VTLs' table pages are neither free nor in any table (a leak of table pages at teardown, the blind spot issue 12 names; upstream's reclaim_pgtable_pages drains every table page of a VM into the teardown memcache, pkvm-and-vtl.md §2.1 \"VM lifecycle\").",
    finds: { invariant: ['hv.pool-conservation'], op: ['sweep', 'vm_teardown_finish'], rules: ['none'], why: 'no outcome changes until the pool runs dry; the pool-conservation check of the next full sweep counts the frames no table and no free list holds' } },
  { name: 'pkvm-share-enomem-half-done', layer: 'hv', doc: 'host_share_guest checks only the host side for table pages, marks the host page SHARED_OWNED and counts the share, then fails with -ENOMEM when the guest map runs dry, leaving the state changed (state mutated, then the call fails on a memory-cache shortage: the share half of "[PATCH 0/8] KVM: arm64: EL2 synchronisation and pKVM stage-2 error propagation fixes", Fuad Tabba, Apr 2026, and "check that the memcache has enough capacity before engaging on the share/donate path", KVM/arm64 fixes for 7.1; pkvm-and-vtl.md §7 B3).',
    finds: { invariant: ['hv.failed-call-no-change'], op: ['host_share_guest'], rules: ['pkvm.host_share_guest.enomem'], why: 'host_share_guest fails with -ENOMEM after changing the host entry and the share count: a failed call changed state' } },
  { name: 'pkvm-pin-leak-on-error', layer: 'hv', doc: 'hyp_pin pins each page as it passes its check and returns -EPERM at a later page without dropping the pins it took: a refcount leaked on an error path after a successful acquire (commit 73b9c1e5da84, the __pkvm_init_vcpu error path, reported by Ben Simner; pkvm-and-vtl.md §7 B4).',
    finds: { invariant: ['hv.failed-call-no-change', 'fault.exit-reason', 'pkvm.pin-balance'], op: ['hyp_pin'], rules: ['pkvm.hyp_pin.eperm'], why: 'hyp_pin returns -EPERM after raising the refcount of the pages before the failing one: a failed call changed state' } },
  { name: 'pkvm-ffa-unshare-unchecked', layer: 'hv', doc: "host_unshare_ffa checks only that the host state is SHARED_OWNED, not that the page was shared through FF-A: the completer side of an unshare not cross-checked against the initiator's state (upstream leaves it to the FF-A proxy, pkvm-and-vtl.md §7 C3), so a page shared with the hypervisor or a guest goes back to the host.",
    finds: { invariant: ['fault.exit-reason'], op: ['host_unshare_ffa'], rules: ['pkvm.host_unshare_ffa.eperm'], why: 'host_unshare_ffa returns 0 for a page shared with the hypervisor or a np guest where -EPERM is required (pkvm.share-pairing would fire after it)' } },
  { name: 'pkvm-force-reclaim-no-zero', layer: 'hv', doc: "Force reclaim hands the page back to the host without zeroing it: the zeroing of vm_reclaim's path (hyp_poison_page) was not applied to the duplicated force-reclaim path (a fix applied to one of two duplicated paths only; pkvm-and-vtl.md §2.1 row 15, §3 I6).",
    finds: { invariant: ['mem.no-lost-write', 'pkvm.no-content-leak'], op: ['host_force_reclaim'], rules: ['pkvm.host_force_reclaim.ok'], why: "the reclaimed private page keeps the guest's bytes: the model zeroed the frame, so the frame compare after host_force_reclaim differs" } },
  { name: 'memattr-range-wrap', layer: 'hv', doc: 'KVM_SET_MEMORY_ATTRIBUTES does not check address + size for wrapping past 2^64: the wrapped range is empty and the call returns 0 instead of -EINVAL (offset + size computed wrapping in a range check; kvm_vm_ioctl_set_mem_attributes, pkvm-and-vtl.md §4.1).',
    finds: { invariant: ['fault.exit-reason'], op: ['set_mem_attrs'], rules: ['memattr.set_mem_attrs.einval'], why: 'set_mem_attrs returns 0 where the wrapping range requires -EINVAL' } },
  { name: 'pkvm-memcache-donate-before-pop', layer: 'hv', doc: "hv_topup donates each page to the hypervisor as its walk of the host's list reaches it, before the page is checked and popped, and pushes the pages on the VM's cache only after the walk: a page the walk fails on (not host-owned) returns -EPERM with the pages before it donated and in no cache (a page donated before it is popped from a host-supplied cache: the ordering of admit_host_page in upstream arm64 pKVM, which donates the list head and then pops it, arch/arm64/kvm/hyp/nvhe/mem_protect.c; pkvm-and-vtl.md §7 B14 'donation could fail and leave things in a bizarre state').",
    finds: { invariant: ['hv.failed-call-no-change'], op: ['hv_topup'], rules: ['pkvm.hv_topup.eperm'], why: 'hv_topup returns the required -EPERM but after donating the pages before the failing one: a failed call changed state (pkvm.memcache-conservation would see the donated pages in no cache at the next sweep)' } },
  { name: 'pkvm-undonate-never-donated', layer: 'hv', doc: "hv_undonate accepts any page the hypervisor holds (host NOPAGE, owner hyp) instead of only free pages of that VM's cache, so a page never donated to the cache (one given with host_donate_hyp, another VM's cache page, a table in use) goes back to the host (undonating something that was never donated: intel-staging/pKVM-IA PR #49, the pid_table undonated at teardown when IPIv is disabled; the x86 RFC's host_ack_donation has no owner check, pkvm-and-vtl.md §7 B10, C7).",
    finds: { invariant: ['fault.exit-reason'], op: ['hv_undonate'], rules: ['pkvm.hv_undonate.eperm'], why: 'hv_undonate returns 0 for a page that is no free page of the cache where -EPERM is required: the return value differs at the faulty call (pkvm.memcache-conservation or pkvm.hyp-isolation would fire after it)' } },
];

export const BUG_NAMES: ReadonlySet<string> = new Set(CATALOGUE.map((b) => b.name));
