import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import protobuf from 'protobufjs';

/**
 * A loopback OTLP/HTTP receiver (no collector binary is needed): it decodes what is POSTed to
 * /v1/traces and /v1/metrics, protobuf or JSON, with the official OTLP definitions (vendored under
 * otlp-proto/, v1.11.0), and keeps every raw body. It can answer 200, answer 503, or never answer.
 */

const PROTO_DIR = join(__dirname, 'otlp-proto');

function loadRoot(): protobuf.Root {
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => join(PROTO_DIR, target);
  root.loadSync(['opentelemetry/proto/collector/trace/v1/trace_service.proto', 'opentelemetry/proto/collector/metrics/v1/metrics_service.proto']);
  root.resolveAll();
  return root;
}

const root = loadRoot();
const TraceRequest = root.lookupType('opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest');
const TraceResponse = root.lookupType('opentelemetry.proto.collector.trace.v1.ExportTraceServiceResponse');
const MetricsRequest = root.lookupType('opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest');
const MetricsResponse = root.lookupType('opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceResponse');

/** OTLP/JSON spells trace and span ids in hex (not base64, as protobuf's JSON mapping would). */
const HEX_ID_FIELDS = new Set(['traceId', 'spanId', 'parentSpanId']);

function hexIdsToBase64(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(hexIdsToBase64);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => [k, HEX_ID_FIELDS.has(k) && typeof v === 'string' ? Buffer.from(v, 'hex').toString('base64') : hexIdsToBase64(v)]),
  );
}

const TO_OBJECT: protobuf.IConversionOptions = { longs: Number, enums: Number, bytes: String, defaults: false, arrays: true };

function decode(type: protobuf.Type, body: Buffer, contentType: string): any {
  if (contentType.includes('json')) {
    const json: unknown = JSON.parse(body.toString('utf8'));
    const message = type.fromObject(hexIdsToBase64(json) as Record<string, unknown>);
    return type.toObject(message, TO_OBJECT);
  }
  return type.toObject(type.decode(body), TO_OBJECT);
}

export type AttributeValue = string | number | boolean | AttributeValue[] | undefined;

function anyValue(v: any): AttributeValue {
  if (v === undefined || v === null) return undefined;
  if ('stringValue' in v) return v.stringValue;
  if ('intValue' in v) return Number(v.intValue);
  if ('doubleValue' in v) return v.doubleValue;
  if ('boolValue' in v) return v.boolValue;
  if ('arrayValue' in v) return (v.arrayValue.values ?? []).map(anyValue);
  return undefined;
}

export function attributesOf(list: any[] | undefined): Record<string, AttributeValue> {
  return Object.fromEntries((list ?? []).map((kv: any) => [kv.key, anyValue(kv.value)]));
}

const hex = (b64: string | undefined): string | undefined => (b64 ? Buffer.from(b64, 'base64').toString('hex') : undefined);

/** One exported span, flattened. kind: 2 SERVER, 3 CLIENT; status code: 2 ERROR. */
export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: Record<string, AttributeValue>;
  events: { name: string; timeUnixNano: number }[];
  status: { code?: number; message?: string };
  startTimeUnixNano: number;
  endTimeUnixNano: number;
  resource: Record<string, AttributeValue>;
}

/** One data point of an exported metric, flattened. */
export interface ReceivedPoint {
  metric: string;
  unit: string;
  attributes: Record<string, AttributeValue>;
  /** Histograms. */
  count?: number;
  sum?: number;
  /** Sums (counters). */
  value?: number;
}

export type ReceiverMode = 'ok' | 'unavailable' | 'hang';

export class OtlpReceiver {
  readonly url: string;
  mode: ReceiverMode = 'ok';
  /** Every body received, as it came (after gzip, if any), with its path and content type. */
  readonly bodies: { path: string; contentType: string; body: Buffer; authorization?: string }[] = [];
  readonly spans: ReceivedSpan[] = [];
  readonly points: ReceivedPoint[] = [];
  private readonly hung: ServerResponse[] = [];
  private readonly sockets = new Set<Socket>();

  private constructor(private readonly server: Server) {
    this.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    server.on('request', (req, res) => void this.handle(req, res));
  }

  static async start(): Promise<OtlpReceiver> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return new OtlpReceiver(server);
  }

  /** Every exported byte, joined, for checks that something never appears in any of them. */
  get allBytes(): Buffer {
    return Buffer.concat(this.bodies.map((b) => b.body));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    let body = Buffer.concat(chunks);
    if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
    const contentType = String(req.headers['content-type'] ?? '');
    const path = req.url ?? '';
    this.bodies.push({ path, contentType, body, authorization: req.headers.authorization });
    if (this.mode === 'hang') {
      this.hung.push(res);
      return;
    }
    if (this.mode === 'unavailable') {
      res.writeHead(503, { 'content-type': 'text/plain' }).end('unavailable');
      return;
    }
    const json = contentType.includes('json');
    if (path === '/v1/traces') {
      this.addTraces(decode(TraceRequest, body, contentType));
      this.answer(res, TraceResponse, json);
    } else if (path === '/v1/metrics') {
      this.addMetrics(decode(MetricsRequest, body, contentType));
      this.answer(res, MetricsResponse, json);
    } else {
      res.writeHead(404).end();
    }
  }

  private answer(res: ServerResponse, type: protobuf.Type, json: boolean): void {
    if (json) res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    else res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end(Buffer.from(type.encode(type.create({})).finish()));
  }

  private addTraces(request: any): void {
    for (const rs of request.resourceSpans ?? []) {
      const resource = attributesOf(rs.resource?.attributes);
      for (const ss of rs.scopeSpans ?? []) {
        for (const s of ss.spans ?? []) {
          this.spans.push({
            traceId: hex(s.traceId)!,
            spanId: hex(s.spanId)!,
            parentSpanId: hex(s.parentSpanId),
            name: s.name,
            kind: s.kind ?? 0,
            attributes: attributesOf(s.attributes),
            events: (s.events ?? []).map((e: any) => ({ name: e.name, timeUnixNano: Number(e.timeUnixNano) })),
            status: s.status ?? {},
            startTimeUnixNano: Number(s.startTimeUnixNano),
            endTimeUnixNano: Number(s.endTimeUnixNano),
            resource,
          });
        }
      }
    }
  }

  private addMetrics(request: any): void {
    for (const rm of request.resourceMetrics ?? []) {
      for (const sm of rm.scopeMetrics ?? []) {
        for (const m of sm.metrics ?? []) {
          for (const p of m.histogram?.dataPoints ?? []) {
            this.points.push({ metric: m.name, unit: m.unit ?? '', attributes: attributesOf(p.attributes), count: Number(p.count), sum: p.sum });
          }
          for (const p of m.sum?.dataPoints ?? []) {
            this.points.push({ metric: m.name, unit: m.unit ?? '', attributes: attributesOf(p.attributes), value: p.asDouble ?? Number(p.asInt) });
          }
        }
      }
    }
  }

  /** Answers every request held so far (200), so nothing is left hanging. */
  release(): void {
    for (const res of this.hung.splice(0)) if (!res.destroyed) res.writeHead(200).end();
  }

  async close(): Promise<void> {
    this.release();
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
