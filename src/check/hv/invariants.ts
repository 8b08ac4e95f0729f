export interface HvFinding { invariant: string; detail: string; coarse: string }
import type { Hypervisor } from '../../hv/hypervisor.js';
export function checkHvInvariants(hv: Hypervisor, full: boolean): HvFinding[] { void hv; void full; return []; }
