/**
 * Bit layouts of every architectural word the machine handles, as named constants.
 * Contract: 64-bit entries are held as two unsigned 32-bit halves (lo = bits 31:0, hi = bits 63:32),
 * so the hot paths never touch BigInt. `*_LO` constants apply to the low half, `*_HI` constants to
 * the high half (bit n of the entry is bit n-32 of hi). Each group cites its source in
 * docs/references.md (section names of the Intel SDM).
 */

// ---------------------------------------------------------------------------------------------
// EPT paging-structure entries [SDM-3C-EPT "EPT Translation Mechanism", tables "Format of an EPT
// PML4 Entry ... EPT Page-Table Entry"]; reference §1.2.
export const EPT_R = 1 << 0; //            read access allowed for the region
export const EPT_W = 1 << 1; //            write access allowed
export const EPT_X = 1 << 2; //            execute allowed (with MBEC: XS, supervisor-mode linear addresses)
export const EPT_RWX = EPT_R | EPT_W | EPT_X;
export const EPT_MEMTYPE_SHIFT = 3; //     leaf bits 5:3, EPT memory type (2, 3, 7 misconfigure)
export const EPT_MEMTYPE_MASK = 7 << 3;
export const EPT_IPAT = 1 << 6; //         leaf: ignore PAT memory type
export const EPT_PS = 1 << 7; //           PDPTE/PDE: 1 = maps a 1 GiB / 2 MiB page; reserved in a PML4E
export const EPT_A = 1 << 8; //            accessed, if EPTP[6]
export const EPT_D = 1 << 9; //            dirty (leaf), if EPTP[6]
export const EPT_XU = 1 << 10; //          MBEC: execute for user-mode linear addresses; else ignored
export const EPT_SW11 = 1 << 11; //        ignored (KVM's "MMU present" software bit)
export const EPT_MEMTYPE_WB = 6;
export const EPT_MEMTYPE_UC = 0;
/** Memory types that misconfigure a leaf [SDM-3C-EPT "EPT Misconfigurations"]. */
export const EPT_MEMTYPE_INVALID = (1 << 2) | (1 << 3) | (1 << 7);
export const EPT_SPP_HI = 1 << (61 - 32); // 4 KiB leaf: sub-page write permissions apply (SPP control = 1)
export const EPT_SVE_HI = 1 << (63 - 32); // leaf: suppress #VE (not modelled beyond being ignored)
/** pKVM page state, EPT software bits 57:56 (pkvm-and-vtl.md §1.1). */
export const EPT_PKVM_STATE_SHIFT_HI = 56 - 32;
export const EPT_PKVM_STATE_MASK_HI = 3 << (56 - 32);

// EPT pointer [SDM-3C-EPTP "Extended-Page-Table Pointer"]; reference §1.1.
export const EPTP_MEMTYPE_MASK = 7; //     bits 2:0, memory type of EPT paging-structure accesses (0 UC, 6 WB)
export const EPTP_WALK_SHIFT = 3; //       bits 5:3, page-walk length - 1 (3 = 4-level)
export const EPTP_WALK_MASK = 7 << 3;
export const EPTP_AD = 1 << 6; //          enable accessed/dirty flags for EPT
export const EPTP_SSS = 1 << 7; //         supervisor shadow-stack control (CET); must be 0 here
export const EPTP_RSVD_LO = 0xf00; //      bits 11:8 reserved

// Secondary processor-based VM-execution controls [SDM-3C "VM-Execution Control Fields"]; §1.1, §3.1.
export const CTL2_EPT = 1 << 1;
export const CTL2_VPID = 1 << 5;
export const CTL2_MBEC = 1 << 22; //       mode-based execute control for EPT
export const CTL2_SPP = 1 << 23; //        sub-page write permissions for EPT

// ---------------------------------------------------------------------------------------------
// EPT-violation exit qualification [SDM-3C-EXITQ "Exit Qualification for EPT Violations"]; §2.1.
export const QUAL_RD = 1 << 0; //          the access was a data read
export const QUAL_WR = 1 << 1; //          the access was a data write (also guest A/D updates)
export const QUAL_FETCH = 1 << 2; //       the access was an instruction fetch
export const QUAL_PR = 1 << 3; //          AND over levels of EPT R
export const QUAL_PW = 1 << 4; //          AND of EPT W
export const QUAL_PX = 1 << 5; //          AND of EPT X (MBEC: XS)
export const QUAL_PUX = 1 << 6; //         MBEC: AND of EPT XU
export const QUAL_GLA_VALID = 1 << 7; //   guest-linear-address field valid
export const QUAL_XLAT = 1 << 8; //        1 = access to the final GPA; 0 = guest paging-structure access
export const QUAL_ADV_USER = 1 << 9; //    advanced info: the linear address is user-mode
export const QUAL_ADV_WRITABLE = 1 << 10; // advanced info: the linear address is writable
export const QUAL_ADV_XD = 1 << 11; //     advanced info: the linear address is execute-disable
export const QUAL_NMI_UNBLOCK = 1 << 12; // NMI unblocking due to IRET (never set here: no NMIs)
export const QUAL_ADV_MASK = QUAL_ADV_USER | QUAL_ADV_WRITABLE | QUAL_ADV_XD;

// SPP-related event exit (reason 66) qualification [KVM-SPP-v5 doc §6][BOCHS]; §3.4.
export const SPP_QUAL_MISS = 1 << 11; //   1 = SPPT miss (a non-leaf entry not valid); 0 = misconfiguration

// VMX basic exit reasons [LNX-vmx.h][BOCHS-vmx.h].
export const EXIT_EPT_VIOLATION = 48;
export const EXIT_EPT_MISCONFIG = 49;
export const EXIT_INVEPT = 50;
export const EXIT_INVVPID = 53;
export const EXIT_SPP = 66;

// VM-instruction error numbers [SDM-3C "VM Instruction Error Numbers"].
export const VMERR_ENTRY_INVALID_CTLS = 7; // VM entry with invalid control field(s)
export const VMERR_INVEPT_INVVPID_OPERAND = 28; // invalid operand to INVEPT/INVVPID

// ---------------------------------------------------------------------------------------------
// SPPT entries [KVM-SPP-v5 doc §4][BOCHS spp_walk]; §3.2.
export const SPPT_VALID = 1 << 0; //       L4E/L3E/L2E: entry valid
export const SPPT_NONLEAF_RSVD_LO = 0xffe; // L4E/L3E/L2E bits 11:1 reserved
export const SPPT_NONLEAF_RSVD_HI = 0xfff00000; // bits 63:52 reserved (plus bits >= MAXPHYADDR)
export const SPPT_LEAF_ODD = 0xaaaaaaaa; // L1E: odd bits reserved (both halves); bit 2i = sub-page i writable
export const SUBPAGE_SHIFT = 7; //         128-byte sub-pages: GPA bits 11:7 select one of 32
export const SUBPAGE_SIZE = 128;

// ---------------------------------------------------------------------------------------------
// Guest 4-level paging entries [SDM-3A-4.5 "4-Level Paging"]; reference §4.
export const PTE_P = 1 << 0; //            present
export const PTE_RW = 1 << 1; //           writes allowed (AND over levels)
export const PTE_US = 1 << 2; //           user-mode accesses allowed (AND over levels)
export const PTE_PWT = 1 << 3;
export const PTE_PCD = 1 << 4;
export const PTE_A = 1 << 5; //            accessed
export const PTE_D = 1 << 6; //            dirty (leaf only)
export const PTE_PS = 1 << 7; //           PDPTE/PDE: maps a 1 GiB / 2 MiB page; reserved in a PML4E
export const PTE_G = 1 << 8; //            global (leaf, with CR4.PGE)
export const PTE_PAT_LARGE = 1 << 12; //   PAT bit of a large leaf (alignment bits start above it)
export const PTE_XD_HI = 1 << (63 - 32); // execute-disable; reserved when EFER.NXE = 0
export const PTE_PKEY_SHIFT_HI = 59 - 32; // leaf bits 62:59: protection key
export const PTE_PKEY_MASK_HI = 0xf << (59 - 32);

// #PF error code [SDM-3A-4.7 "Page-Fault Exceptions"][LNX-trap_pf.h]; §4.1.
export const PF_P = 1 << 0; //             0 = not present; 1 = protection, reserved bit or key
export const PF_W = 1 << 1; //             the access was a write
export const PF_U = 1 << 2; //             the access was a user-mode access
export const PF_RSVD = 1 << 3; //          a reserved bit was set in a paging-structure entry
export const PF_I = 1 << 4; //             instruction fetch (with SMEP or PAE+NXE)
export const PF_PK = 1 << 5; //            protection-key violation
export const PF_SS = 1 << 6; //            shadow-stack access (not modelled)

// Control registers and MSRs [SDM-3A "Control Registers"; KUT lib/x86/processor.h].
export const CR0_PE = 1 << 0;
export const CR0_WP = 1 << 16; //          supervisor writes honour R/W (and key WD)
export const CR0_PG = 1 << 31;
export const CR4_PSE = 1 << 4;
export const CR4_PAE = 1 << 5;
export const CR4_PGE = 1 << 7; //          global pages
export const CR4_SMEP = 1 << 20;
export const CR4_SMAP = 1 << 21;
export const CR4_PKE = 1 << 22; //         protection keys for user-mode pages (PKRU)
export const CR4_PKS = 1 << 24; //         protection keys for supervisor-mode pages (IA32_PKRS)
export const EFER_LME = 1 << 8;
export const EFER_LMA = 1 << 10;
export const EFER_NXE = 1 << 11; //        XD bit usable; else bit 63 is reserved
export const RFLAGS_AC = 1 << 18; //       alignment check / SMAP override for explicit supervisor accesses
export const MSR_IA32_PKRS = 0x6e1;

// Protection-key rights registers (PKRU and IA32_PKRS): bit 2i = AD_i, bit 2i+1 = WD_i [SDM-3A-4.6.2].
export const PKR_AD = 1;
export const PKR_WD = 2;

/** Mask of address bits 31:12 of the low half. */
export const ADDR_LO_MASK = 0xfffff000;

/** Mask of the high half's address bits [maxPhyAddr-1 : 32]. */
export function addrHiMask(maxPhyAddr: number): number {
  return (2 ** (maxPhyAddr - 32) - 1) >>> 0;
}

/** Mask of the high half's reserved address bits [51 : maxPhyAddr]. */
export function rsvdAddrHiMask(maxPhyAddr: number): number {
  return ((2 ** (52 - 32) - 1) & ~addrHiMask(maxPhyAddr)) >>> 0;
}
