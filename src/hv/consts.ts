/**
 * Named constants of the hypervisor model: errno values, pKVM owner ids and page states, the
 * software bits the hypervisor keeps in EPT leaves, KVM and Hyper-V ABI values.
 * Contract: every value cites pkvm-and-vtl.md or x86-memory-protection.md; the reference model
 * (src/model/hv) uses the same ABI values but never the EPT software-bit layout.
 */

// Errno values (pkvm-and-vtl.md §2 "Errno values for the harness"); calls return -errno.
export const EPERM = 1;
export const ENOENT = 2;
export const E2BIG = 7;
export const ENOMEM = 12;
export const EFAULT = 14;
export const EBUSY = 16;
export const EEXIST = 17;
export const EINVAL = 22;
export const EAGAIN = 11;
export const EHWPOISON = 133;
/** The hypervisor's refcount of a page is a u16 (struct hyp_page, §1.2). */
export const PIN_COUNT_MAX = 0xffff;

// pKVM owner ids, x86 numbering (§1.1): 0 hyp, 1 host, 2.. guests (the VM handle).
export const OWNER_HYP = 0;
export const OWNER_HOST = 1;
export const VM_ID_MIN = 2;

// pKVM page states in EPT bits 57:56 (§1.1): 00 NOPAGE, 01 OWNED, 10 SHARED_OWNED, 11 SHARED_BORROWED.
export const PS_NOPAGE = 0;
export const PS_OWNED = 1;
export const PS_SHARED_OWNED = 2;
export const PS_SHARED_BORROWED = 3;
export const PAGE_STATE_NAMES = ['NOPAGE', 'OWNED', 'SHARED_OWNED', 'SHARED_BORROWED'] as const;

// Software bits of guest EPT leaves (bits the processor ignores, ref §1.2). High-half positions.
export const STATE_SHIFT_HI = 56 - 32; //    pKVM page state (bits 57:56)
export const STATE_MASK_HI = 3 << STATE_SHIFT_HI;
export const SAVED_R_HI = 1 << (52 - 32); // access tracking: saved R (KVM's "acc-track saved bits")
export const SAVED_W_HI = 1 << (53 - 32); // access tracking: saved W
export const SAVED_X_HI = 1 << (54 - 32); // access tracking: saved X
export const SPP_SAVED_HI = 1 << (55 - 32); // SPP bit 61 parked while write-protected or access-tracked (KVM v12)
export const WP_HI = 1 << (62 - 32); //     write-protected for dirty logging (restored on the write fault)
export const SPP_HI = 1 << (61 - 32); //    the architectural SPP bit of a 4 KiB leaf
export const AGED_LO = 1 << 11; //          access-tracked: rights parked in SAVED_*; the next access restores them
/**
 * Lazy host EPT (arm64 profile): mark of a NOPAGE annotation (bit 63, ignored in a not-present
 * entry), so it differs from an entry never written (arm64's annotations are non-zero too, §1.2).
 */
export const HOST_ANNOTATION_HI = 1 << (63 - 32);
/** pKVM owner id of a host NOPAGE leaf: bits 31:12 (§1.1). */
export const OWNER_SHIFT_LO = 12;

// KVM ABI.
export const KVM_MEM_READONLY = 1 << 1;
export const KVM_MEM_EXECONLY = 1 << 2; // the XO RFC's flag (x86-memory-protection.md §5.2)
export const KVM_MEM_FLAGS_KNOWN = KVM_MEM_READONLY | KVM_MEM_EXECONLY;
export const MEMSLOTS_MAX = 32;
export const KVM_SUBPAGE_MAX_PAGES = 512; // check_extension(KVM_CAP_X86_SPP), ref §3.5
export const SPP_ALL_WRITABLE = 0xffffffff;
export const MEMATTR_NR = 1 << 0; //      RWX extension, negated bits (§4.4)
export const MEMATTR_NW = 1 << 1;
export const MEMATTR_NX = 1 << 2;
export const MEMATTR_PRIVATE = 1 << 3; // KVM_MEMORY_ATTRIBUTE_PRIVATE (§4.1)
export const MEMFAULT_READ = 1 << 0; //   KVM_EXIT_MEMORY_FAULT flags (§4.3, VSM series RWX flags)
export const MEMFAULT_WRITE = 1 << 1;
export const MEMFAULT_EXEC = 1 << 2;
export const MEMFAULT_PRIVATE = 1 << 3; // KVM_MEMORY_EXIT_FLAG_PRIVATE

// Hyper-V ABI (§5.1): HV_MAP_GPA_FLAGS and status codes.
export const HV_MAP_READ = 0x1;
export const HV_MAP_WRITE = 0x2;
export const HV_MAP_EXEC_A = 0x4; //       kernel-exec (hv_map_gpa order) or user-exec (vsm_mask order)
export const HV_MAP_EXEC_B = 0x8;
export const HV_MAP_NO_ACCESS = 0x10000;
export const HV_STATUS_SUCCESS = 0;
export const HV_STATUS_INVALID_PARAMETER = 5;
export const HV_STATUS_ACCESS_DENIED = 6;
export const HV_STATUS_OPERATION_DENIED = 8;
export const HV_STATUS_INSUFFICIENT_MEMORY = 11;

// EPT rights as the hypervisor hands them out (ref §1.2 bits 2:0).
export const R = 1;
export const W = 2;
export const X = 4;
export const RWX = 7;
/** MBEC user execute (EPT XU, bit 10; X is then XS): only in rights of a VM under `vtlMbec`. */
export const UX = 1 << 10;
/** Any execute right. */
export const XX = X | UX;
