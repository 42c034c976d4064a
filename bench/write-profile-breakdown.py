#!/usr/bin/env python3
"""Attributes the execution samples of a JFR recording of WriteBenchmark to buckets, in CPU microseconds per delta.

    jfr print --json --stack-depth 160 --events jdk.ExecutionSample rec.jfr > rec.json
    bench/write-profile-breakdown.py rec.json JVM_CPU_US_PER_DELTA

JVM_CPU_US_PER_DELTA is the "JVM cpu us" the recorded run printed (in-process clients); the samples of start-up and
of the JDBC baseline are left out of the scale. Each sample goes to a side by its thread (and, on the Netty event
loops shared by client and server, by the first client or server class on its stack), and a server call thread's
sample to the first bucket matched from the leaf towards the root. docs/performance.md, "Sixth part", says what
the buckets mean.
"""
import json,collections,re,sys
path=sys.argv[1]; cpu=float(sys.argv[2])
d=json.load(open(path)); ev=d['recording']['events']
def fr(f):
    m=f['method']; return m['type']['name'].replace('/','.')+'.'+m['name']
CALL=[ # leaf->root, first hit
 (r'^org\.postgresql\.', 'PgJDBC (bind, encode, send, read, decode)'),
 (r'^com\.zaxxer\.hikari|ReadCommittedConnections', 'Hikari pool'),
 (r'MethodDescriptor\.parseRequest|RequestParsing', 'request protobuf parse'),
 (r'DeltaResult\.writeTo|DeltaResult\.computeSerializedSize|PushResponse\.writeTo|MessageFramer|ServerCallStreamObserverImpl\.onNext|ServerCallImpl\.sendMessage', 'response encode (DeltaResult/Entity/Struct), framing'),
 (r'LogContextInterceptor', 'log-context interceptor (request id, MDC)'),
 (r'^io\.micrometer\.|telemetry\.|^io\.opentelemetry', 'Micrometer, push telemetry, spans'),
 (r'^io\.deltasync\.server\.auth\.', 'auth interceptor'),
 (r'DeltaValidator|ValidDelta', 'validation'),
 (r'WriteService\.digest', 'delta digest'),
 (r'store\.Json\.', 'Json.asStored / asStoredApplies / toJson'),
 (r'store\.Rows\.', 'result building (Rows: entity from row)'),
 (r'^org\.jooq\.', 'jOOQ (transaction begin/commit, config)'),
 (r'store\.PlainWrites|store\.SingleWrites', 'claim-and-write statement (arrays, rows)'),
 (r'admission\.', 'admission (entity locks)'),
 (r'^io\.deltasync\.server\.', 'WriteService and the rest of the write path'),
 (r'^io\.grpc\.|^io\.netty\.', 'gRPC server call machinery'),
 (r'^java\.lang\.VirtualThread|Continuation', 'virtual-thread mount/unmount'),
]
def callbucket(n):
    for x in n:
        for rx,b in CALL:
            if re.search(rx,x): return b
    return 'call thread: other'
cnt=collections.Counter()
for e in ev:
    t=e['values']['sampledThread']; tn=t.get('javaName') or t.get('osName') or '?'
    st=e['values']['stackTrace']['frames'] if e['values'].get('stackTrace') else []
    n=[fr(f) for f in st]; j=' '.join(n)
    if 'lambda$jdbc' in j: k=('-','JDBC baseline (excluded)')
    elif tn=='main' or 'flyway' in j.lower() or 'Embedded' in j or tn.startswith('initdb'): k=('-','start-up (excluded)')
    elif tn.startswith('pool-'): k=('client','benchmark client threads (build deltas, encode, gRPC client, parse results)')
    elif tn.startswith('grpc-default-worker'):
        if re.search(r'NettyClient|ClientCall|Http2Client|ClientStream|ClientTransport',j): k=('client','Netty event loop, client side')
        elif re.search(r'NettyServer|ServerImpl|ServerStream|ServerTransport',j): k=('server','Netty event loop, server side (HTTP/2, hand-off)')
        else: k=('shared','Netty event loop, either side (epoll, buffers)')
    elif tn.startswith('deltasync-call'): k=('server',callbucket(n))
    elif tn.startswith('ForkJoinPool'): k=('server','virtual-thread carriers (scheduling, idle spin)')
    elif tn.startswith('deltasync-live-feed'): k=('server','live feed (woken per commit, NOTIFY)')
    elif tn.startswith('PostgreSQL JDBC') or tn.startswith('SubPoller') or tn.startswith('MasterPoller'): k=('server','PgJDBC cleaner, JDK socket pollers')
    else: k=('other','other threads (JFR, GC notification, health, pool)')
    cnt[k]+=1
counted=sum(v for k,v in cnt.items() if k[0]!='-')
per=cpu/counted
print(f'samples {sum(cnt.values())}, counted {counted}, {per:.3f} us/delta per sample')
for side in ['server','client','shared','other','-']:
    items=[(k,v) for k,v in cnt.items() if k[0]==side]
    tot=sum(v for k,v in items)
    print(f'== {side}: {tot} samples, {tot*per:.1f} us/delta')
    for k,v in sorted(items,key=lambda x:-x[1]):
        print(f'   {k[1]:75s} {v:5d} {v*per:7.1f}')
