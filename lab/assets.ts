// lab/assets — the guest kernel and initramfs, prepared once from Debian packages into a
// git-ignored cache (.cache/lab under the project root, or $AFFINITYD_LAB_CACHE).
//
// The kernel is Debian's own linux-image-amd64 (6.1 on bookworm): the distribution kernel a
// Proxmox-style guest runs, and one older than the host's, so kernel-6.1 behaviour (EIO on
// managed IRQs) is seen for real. The initramfs is busybox-static plus the modules in
// MODULES and lab/guest-init.sh as /init.

import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import { createHash } from 'node:crypto';
import { LabError, projectRoot } from './step.js';

/** Loaded in this order by /init (no modprobe in the guest): each needs the ones before it. */
export const MODULES = [
  'drivers/virtio/virtio_ring',
  'drivers/virtio/virtio',
  'drivers/virtio/virtio_pci_modern_dev',
  'drivers/virtio/virtio_pci_legacy_dev',
  'drivers/virtio/virtio_pci',
  'net/core/failover',
  'drivers/net/net_failover',
  'drivers/net/virtio_net',
  'drivers/block/virtio_blk',
  'drivers/char/virtio_console',
  'drivers/net/ethernet/intel/e1000/e1000',
  'fs/netfs/netfs',
  'fs/fscache/fscache',
  'net/9p/9pnet',
  'net/9p/9pnet_virtio',
  'fs/9p/9p',
  'fs/overlayfs/overlay',
] as const;

export interface LabAssets {
  kernel: string;
  initrd: string;
  /** uname -r of the guest kernel, e.g. 6.1.0-57-amd64. */
  release: string;
}

export function cacheDir(): string {
  return process.env.AFFINITYD_LAB_CACHE ?? path.join(projectRoot(), '.cache', 'lab');
}

function run(cmd: string, args: string[], cwd: string): string {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout: 300_000 });
  if (r.error) throw new LabError(`prepare assets: ${cmd} ${args.join(' ')}: ${r.error.message}`);
  if (r.status !== 0) throw new LabError(`prepare assets: ${cmd} ${args.join(' ')} exited ${r.status}: ${(r.stderr || r.stdout).trim().split('\n').pop()}`);
  return r.stdout;
}

/** apt-get download NAME into dir; refreshes the package lists once if apt has never fetched them. */
function aptDownload(name: string, dir: string): string {
  const attempt = () => spawnSync('apt-get', ['download', name], { cwd: dir, encoding: 'utf8', timeout: 300_000 });
  let r = attempt();
  if (r.status !== 0) {
    run('apt-get', ['update'], dir);
    r = attempt();
  }
  if (r.status !== 0) throw new LabError(`prepare assets: apt-get download ${name}: ${(r.stderr || '').trim().split('\n').pop()}`);
  const deb = fs.readdirSync(dir).find((f) => f.startsWith(`${name}_`) && f.endsWith('.deb'));
  if (!deb) throw new LabError(`prepare assets: apt-get download ${name} left no .deb in ${dir}`);
  return path.join(dir, deb);
}

/** The newest kernel already unpacked in the cache, else Debian's current one, downloaded. */
function kernelTree(cache: string): { root: string; release: string } {
  const have = fs.existsSync(cache) ? fs.readdirSync(cache).filter((d) => d.startsWith('kernel-')).sort() : [];
  if (have.length > 0) {
    const root = path.join(cache, have[have.length - 1]!);
    return { root, release: have[have.length - 1]!.slice('kernel-'.length) };
  }
  const debs = fs.mkdtempSync(path.join(cache, 'debs-'));
  try {
    const meta = aptDownload('linux-image-amd64', debs);
    // linux-image-amd64 is a metapackage: its Depends names the versioned image package.
    const depends = run('dpkg-deb', ['-f', meta, 'Depends'], debs);
    const image = /linux-image-(\d[^\s,()]*-amd64)/.exec(depends);
    if (!image) throw new LabError(`prepare assets: cannot find the kernel package in linux-image-amd64's Depends: ${depends.trim()}`);
    const deb = aptDownload(`linux-image-${image[1]}`, debs);
    const release = image[1]!;
    const tmp = path.join(cache, `.kernel-${release}.tmp`);
    fs.rmSync(tmp, { recursive: true, force: true });
    run('dpkg-deb', ['-x', deb, tmp], debs);
    // Keep only what a guest needs (the unpacked tree is ~400 MB, the kept part ~6 MB).
    const kept = path.join(cache, `.kernel-${release}.keep`);
    fs.rmSync(kept, { recursive: true, force: true });
    fs.mkdirSync(path.join(kept, 'modules'), { recursive: true });
    fs.copyFileSync(path.join(tmp, 'boot', `vmlinuz-${release}`), path.join(kept, 'vmlinuz'));
    for (const m of MODULES) {
      fs.copyFileSync(path.join(tmp, 'lib', 'modules', release, 'kernel', `${m}.ko`), path.join(kept, 'modules', `${path.basename(m)}.ko`));
    }
    fs.rmSync(tmp, { recursive: true, force: true });
    fs.renameSync(kept, path.join(cache, `kernel-${release}`));
    return { root: path.join(cache, `kernel-${release}`), release };
  } finally {
    fs.rmSync(debs, { recursive: true, force: true });
  }
}

/** A static busybox: the initramfs has no libc. Debian's busybox-static installs one at /bin/busybox. */
function staticBusybox(): string {
  const candidates = ['/bin/busybox', '/usr/bin/busybox'];
  for (const c of candidates) {
    if (!fs.existsSync(c)) continue;
    if (!hasInterpreter(fs.readFileSync(c))) return c;
  }
  throw new LabError('prepare assets: no static busybox (apt-get install busybox-static)');
}

/** True when an ELF64 file has a PT_INTERP program header, i.e. is dynamically linked. */
function hasInterpreter(elf: Buffer): boolean {
  const phoff = Number(elf.readBigUInt64LE(0x20));
  const phentsize = elf.readUInt16LE(0x36);
  const phnum = elf.readUInt16LE(0x38);
  for (let i = 0; i < phnum; i++) if (elf.readUInt32LE(phoff + i * phentsize) === 3 /* PT_INTERP */) return true;
  return false;
}

/** newc cpio of dir, as the kernel's initramfs unpacker reads it (busybox cpio: Debian has no cpio by default). */
function cpio(dir: string, busybox: string): Buffer {
  const list = execFileSync(busybox, ['find', '.'], { cwd: dir });
  return execFileSync(busybox, ['cpio', '-o', '-H', 'newc'], { cwd: dir, input: list, stdio: ['pipe', 'pipe', 'ignore'], maxBuffer: 256 << 20 });
}

export function prepareAssets(): LabAssets {
  const cache = cacheDir();
  fs.mkdirSync(cache, { recursive: true });
  const kernel = kernelTree(cache);
  const busybox = staticBusybox();
  const init = fs.readFileSync(path.join(projectRoot(), 'lab', 'guest-init.sh'));
  const key = createHash('sha256').update(init).update(kernel.release).update(MODULES.join(',')).update(fs.readFileSync(busybox)).digest('hex').slice(0, 16);
  const initrd = path.join(cache, `initrd-${key}.gz`);
  if (!fs.existsSync(initrd)) {
    const dir = fs.mkdtempSync(path.join(cache, 'initrd-'));
    try {
      for (const d of ['bin', 'lib/modules', 'proc', 'sys', 'dev', 'host', 'rw', 'newroot', 'tmp']) fs.mkdirSync(path.join(dir, d), { recursive: true });
      fs.copyFileSync(busybox, path.join(dir, 'bin', 'busybox'));
      fs.chmodSync(path.join(dir, 'bin', 'busybox'), 0o755);
      fs.writeFileSync(path.join(dir, 'init'), init, { mode: 0o755 });
      fs.writeFileSync(path.join(dir, 'modules.order'), MODULES.map((m) => path.basename(m)).join('\n') + '\n');
      for (const m of MODULES) fs.copyFileSync(path.join(kernel.root, 'modules', `${path.basename(m)}.ko`), path.join(dir, 'lib', 'modules', `${path.basename(m)}.ko`));
      const tmp = `${initrd}.${process.pid}.tmp`;
      fs.writeFileSync(tmp, gzipSync(cpio(dir, busybox), { level: 1 }));
      fs.renameSync(tmp, initrd);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  return { kernel: path.join(kernel.root, 'vmlinuz'), initrd, release: kernel.release };
}
