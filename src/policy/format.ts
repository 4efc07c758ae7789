// policy/format — the effective policy as INI text (`affinityd check-config`).
//
// Every key is written out, defaults included, so the operator sees what the agent will do
// rather than what they typed. The output parses back to the same policy (tested), which
// makes it a valid starting point for a config file. Values go through ini.safe() so a
// state-file path with ';' or '#' survives the round trip through ini.unsafe().

import * as ini from 'ini';
import { formatCpuList } from '../cpumask/cpumask.js';
import type { Policy, PolicySection, SerialSection } from '../types.js';
import { shippedPolicyPath } from './shipped.js';

export function formatPolicy(p: Policy): string {
  const out: string[] = ['; affinityd effective policy'];
  if (p.files.length === 0) out.push('; source: built-in defaults (no policy file found)');
  else if (p.files.length === 1 && p.files[0] === shippedPolicyPath()) {
    out.push(`; source: ${p.files[0]} (the shipped defaults: no policy file was found)`);
  } else for (const f of p.files) out.push(`; source: ${f}`);

  const kv = (key: string, value: string): void => {
    out.push(value === '' ? `${key} =` : `${key} = ${ini.safe(value)}`);
  };
  const unset = (key: string, meaning: string): void => {
    out.push(`;${key} =   ; unset: ${meaning}`);
  };

  out.push('', '[cpus]');
  kv('cpus', p.cpus === null ? 'all' : formatCpuList(p.cpus));
  kv('exclude-cpus', formatCpuList(p.excludeCpus));
  kv('allow-isolated', String(p.allowIsolated));
  kv('allow-nohz-full', String(p.allowNohzFull));
  kv('online-hotplugged', String(p.onlineHotplugged));

  out.push('', '[defaults]');
  kv('strategy', p.defaults.strategy);
  if (p.defaults.pin !== null) kv('pin', formatCpuList(p.defaults.pin));
  kv('rps', p.defaults.rps);
  kv('xps', p.defaults.xps);
  if (p.defaults.rpsFlowCnt === null) unset('rps-flow-cnt', 'leave each queue\'s rps_flow_cnt alone');
  else kv('rps-flow-cnt', String(p.defaults.rpsFlowCnt));
  kv('cross-node', String(p.defaults.crossNode));

  out.push('', '[net]');
  if (p.rpsSockFlowEntries === null) unset('rps-sock-flow-entries', 'leave net.core.rps_sock_flow_entries alone');
  else kv('rps-sock-flow-entries', String(p.rpsSockFlowEntries));

  out.push('', '[agent]');
  kv('settle-ms', String(p.agent.settleMs));
  kv('resync-interval', String(p.agent.resyncIntervalS));
  kv('state-file', p.agent.stateFile);

  out.push('', '[metrics]');
  kv('textfile-directory', p.metrics.textfileDirectory ?? 'off');
  const l = p.metrics.listen;
  kv('listen', l === null ? 'off' : l.host.includes(':') ? `[${l.host}]:${l.port}` : `${l.host}:${l.port}`);

  for (const s of p.sections) formatSection(s, out, kv, unset);
  for (const s of p.serialSections ?? []) formatSerialSection(s, out, kv);
  return out.join('\n') + '\n';
}

function formatSerialSection(s: SerialSection, out: string[], kv: (key: string, value: string) => void): void {
  out.push('', `; from ${s.file}:${s.line}`, `[${s.name}]`);
  const list = (key: string, v: string[] | undefined): void => {
    if (v !== undefined) kv(key, v.join(' '));
  };
  list('match-path', s.match.path);
  list('match-by-id', s.match.byId);
  list('match-usb-id', s.match.usbId);
  list('match-serial', s.match.serial);
  kv('strategy', s.strategy);
  if (s.pin !== null) kv('pin', formatCpuList(s.pin));
}

function formatSection(
  s: PolicySection,
  out: string[],
  kv: (key: string, value: string) => void,
  unset: (key: string, meaning: string) => void,
): void {
  out.push('', `; from ${s.file}:${s.line}`, `[${s.name}]`);
  const list = (key: string, v: string[] | undefined): void => {
    if (v !== undefined) kv(key, v.join(' '));
  };
  if (s.kind === 'irq') {
    list('match-irq', s.match.irq);
    kv('strategy', s.strategy);
    if (s.pin !== null) kv('pin', formatCpuList(s.pin));
    return;
  }
  list('match-name', s.match.name);
  list('match-driver', s.match.driver);
  list('match-pci', s.match.pci);
  list('match-mac', s.match.mac);
  kv('strategy', s.strategy);
  if (s.pin !== null) kv('pin', formatCpuList(s.pin));
  kv('rps', s.rps);
  kv('xps', s.xps);
  if (s.rpsFlowCnt === null) unset('rps-flow-cnt', 'leave alone');
  else kv('rps-flow-cnt', String(s.rpsFlowCnt));
  kv('cross-node', String(s.crossNode));
}
