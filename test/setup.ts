/**
 * Test-run setup: fast-check draws from a fixed seed unless EPTFUZZ_TEST_SEED=random, so `npm test`
 * (and CI) gives the same result on every run; `npm run test:long` explores fresh seeds. A failing
 * property prints its seed and path, which replay it.
 */
import fc from 'fast-check';

const random = process.env.EPTFUZZ_TEST_SEED === 'random';
if (!random) fc.configureGlobal({ seed: 0x5eed });
