// cli/executable — where the built executable is: the one-file CommonJS bundle that
// scripts/bundle-cli.mjs writes next to this module, and package.json's bin. The tests, the
// benches and the lab run affinityd through this path, so that what they run is what ships.
// Nothing in the executable imports this module.

import { fileURLToPath } from 'node:url';

export const EXECUTABLE = fileURLToPath(new URL('./affinityd.cjs', import.meta.url));
