#!/usr/bin/env python3
"""bench/compile/gen.py: writes a large, valid store for the compile benchmark.

    gen.py OUTDIR [--se 10000] [--vs 2000] [--dr 2000] [--gateways 500]

The objects look like the how-to's, scaled up:
  * GATEWAYS egress gateways gw-K in namespaces egress-(K % 10), each with its Deployment
    gw-K-asm-1-24 (SGC annotation, pod address), Service gw-K (15021, 80->8080, 443->8443),
    StaticGatewayConfiguration sgc-K, and a Gateway gw-K with an HTTP server on 80 and a
    TLS PASSTHROUGH server on 443 for the hosts its VirtualServices route;
  * SE ServiceEntries ext-I in namespaces apps-(I % 20), host svc-I.example.com, ports
    80/HTTP and 443/TLS, resolution DNS;
  * VS VirtualServices route-J (namespace of gateway K = J % GATEWAYS), host
    svc-(J*SE/VS).example.com, bound to mesh and gw-K, with the how-to's pair of http rules
    (mesh -> the gateway Service subset, gateway -> the site) and of tls rules;
  * DR DestinationRules: the first half give gateway Services a subset per route, the
    second half originate TLS for a site on 443 (portLevelSettings).
Deterministic (no randomness): the same arguments give the same files."""
import argparse
import os

CHUNK = 500  # objects per file: the store keeps one object per file, so parsing stays linear


class Chunked:
    """Writes YAML documents into PREFIX-NNN.yaml files of CHUNK documents each."""

    def __init__(self, outdir, prefix):
        self.outdir, self.prefix, self.n, self.f = outdir, prefix, 0, None

    def write(self, text):
        for doc in text.split("---\n"):
            if not doc.strip():
                continue
            if self.n % CHUNK == 0:
                if self.f:
                    self.f.close()
                self.f = open(os.path.join(self.outdir, "%s-%03d.yaml" % (self.prefix, self.n // CHUNK)), "w")
            self.f.write(doc if doc.endswith("\n") else doc + "\n")
            self.f.write("---\n")
            self.n += 1

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.f:
            self.f.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("outdir")
    ap.add_argument("--se", type=int, default=10000)
    ap.add_argument("--vs", type=int, default=2000)
    ap.add_argument("--dr", type=int, default=2000)
    ap.add_argument("--gateways", type=int, default=500)
    a = ap.parse_args()
    os.makedirs(a.outdir, exist_ok=True)
    G, SE, VS, DR = a.gateways, a.se, a.vs, a.dr
    stride = max(1, SE // max(1, VS))

    def gw_ns(k):
        return "egress-%d" % (k % 10)

    def vs_host(j):
        return "svc-%d.example.com" % ((j * stride) % SE)

    hosts_of_gw = {k: [] for k in range(G)}
    for j in range(VS):
        hosts_of_gw[j % G].append(vs_host(j))

    with Chunked(a.outdir, "00-namespaces") as f:
        for n in ["aks-istio-system"] + ["egress-%d" % i for i in range(10)] + \
                 ["apps-%d" % i for i in range(20)]:
            f.write("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: %s\n---\n" % n)
        f.write("apiVersion: v1\nkind: ConfigMap\nmetadata:\n"
                "  name: istio-shared-configmap-asm-1-24\n  namespace: aks-istio-system\n"
                "data:\n  mesh: |-\n    outboundTrafficPolicy:\n      mode: REGISTRY_ONLY\n"
                "    accessLogFile: /dev/stdout\n")

    with Chunked(a.outdir, "10-gateways") as f:
        for k in range(G):
            ns, name = gw_ns(k), "gw-%d" % k
            ip = "127.%d.%d.%d" % (10 + k // 65536, (k // 256) % 256, k % 256)
            f.write(f"""apiVersion: egressgateway.kubernetes.azure.com/v1alpha1
kind: StaticGatewayConfiguration
metadata:
  name: sgc-{k}
  namespace: {ns}
spec:
  gatewayNodepoolName: gwpool
status:
  egressIpPrefix: 127.200.{k % 256}.0/30
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}-asm-1-24
  namespace: {ns}
  labels: {{app: {name}, istio: {name}}}
spec:
  selector:
    matchLabels: {{app: {name}, istio: {name}}}
  template:
    metadata:
      labels: {{app: {name}, istio: {name}}}
      annotations:
        kubernetes.azure.com/static-gateway-configuration: sgc-{k}
        egressd.io/pod-addresses: "{ip}"
    spec:
      serviceAccountName: {name}
      containers:
      - name: istio-proxy
        image: egressd
---
apiVersion: v1
kind: Service
metadata:
  name: {name}
  namespace: {ns}
  labels: {{app: {name}, istio: {name}}}
spec:
  selector: {{app: {name}, istio: {name}}}
  ports:
  - {{name: status-port, port: 15021, targetPort: 15021}}
  - {{name: http2, port: 80, targetPort: 8080}}
  - {{name: https, port: 443, targetPort: 8443}}
---
""")
            hosts = hosts_of_gw[k] or ["unused-%d.example.com" % k]
            hl = "".join("    - %s\n" % h for h in hosts)
            f.write(f"""apiVersion: networking.istio.io/v1
kind: Gateway
metadata:
  name: {name}
  namespace: {ns}
spec:
  selector:
    istio: {name}
  servers:
  - port: {{number: 80, name: http, protocol: HTTP}}
    hosts:
{hl}  - port: {{number: 443, name: tls, protocol: TLS}}
    tls: {{mode: PASSTHROUGH}}
    hosts:
{hl}---
""")

    with Chunked(a.outdir, "20-serviceentries") as f:
        for i in range(SE):
            f.write(f"""apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: ext-{i}
  namespace: apps-{i % 20}
spec:
  hosts: [svc-{i}.example.com]
  ports:
  - {{number: 80, name: http, protocol: HTTP}}
  - {{number: 443, name: tls, protocol: TLS}}
  resolution: DNS
---
""")

    with Chunked(a.outdir, "30-virtualservices") as f:
        for j in range(VS):
            k = j % G
            ns, gw, host = gw_ns(k), "gw-%d" % k, vs_host(j)
            fq = "%s.%s.svc.cluster.local" % (gw, ns)
            f.write(f"""apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: route-{j}
  namespace: {ns}
spec:
  hosts: [{host}]
  gateways: [{gw}, mesh]
  http:
  - match:
    - gateways: [mesh]
      port: 80
    route:
    - destination: {{host: {fq}, subset: r{j}, port: {{number: 80}}}}
  - match:
    - gateways: [{gw}]
      port: 80
    route:
    - destination: {{host: {host}, port: {{number: 80}}}}
  tls:
  - match:
    - gateways: [mesh]
      port: 443
      sniHosts: [{host}]
    route:
    - destination: {{host: {fq}, subset: r{j}, port: {{number: 443}}}}
  - match:
    - gateways: [{gw}]
      port: 443
      sniHosts: [{host}]
    route:
    - destination: {{host: {host}, port: {{number: 443}}}}
---
""")

    with Chunked(a.outdir, "40-destinationrules") as f:
        for d in range(DR):
            if d < DR // 2:
                k = d % G
                ns, gw = gw_ns(k), "gw-%d" % k
                subsets = "".join("  - name: r%d\n" % j for j in range(d % VS, VS, DR // 2)
                                  if j % G == k) or "  - name: unused\n"
                f.write(f"""apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: to-{gw}-{d}
  namespace: {ns}
spec:
  host: {gw}.{ns}.svc.cluster.local
  subsets:
{subsets}---
""")
            else:
                i = ((d - DR // 2) * stride) % SE
                f.write(f"""apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: originate-{d}
  namespace: apps-{i % 20}
spec:
  host: svc-{i}.example.com
  trafficPolicy:
    loadBalancer: {{simple: ROUND_ROBIN}}
    portLevelSettings:
    - port: {{number: 443}}
      tls: {{mode: SIMPLE}}
---
""")


if __name__ == "__main__":
    main()
