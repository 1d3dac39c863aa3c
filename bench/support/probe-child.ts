/**
 * Times sequential GETs of one URL from a process of its own, so the client's reading is not slowed
 * by whatever else the bench process holds open (thousands of held requests). Reports over IPC.
 */
import { request } from 'undici';

async function main(): Promise<void> {
  const url = process.env.PROBE_URL ?? '';
  const samples = Number(process.env.PROBE_SAMPLES ?? '10');
  const warmups = Number(process.env.PROBE_WARMUPS ?? '2');
  const ms: number[] = [];
  let status = 0;
  let bytes = 0;
  for (let i = 0; i < samples + warmups; i++) {
    const t0 = performance.now();
    const res = await request(url);
    const body = Buffer.from(await res.body.arrayBuffer());
    const dt = performance.now() - t0;
    status = res.statusCode;
    bytes = body.length;
    if (i >= warmups) ms.push(dt);
  }
  process.send?.({ type: 'probe', status, bytes, ms }, () => process.exit(0));
}

void main().catch((error: unknown) => {
  process.stderr.write(`probe failed: ${String(error)}\n`);
  process.exit(1);
});
