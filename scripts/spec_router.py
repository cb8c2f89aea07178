#!/usr/bin/env python3
# Route each HubSpot API path to the Prism proxy validating it against HubSpot's own spec.
import http.server, socketserver, sys, threading, urllib.request, re
PORTS = dict(x.split('=') for x in sys.argv[2:])
LOG = threading.Lock()  # one line per request in the script's tally
OBJECTS = {'companies': 'companies', 'contacts': 'contacts', '0-3': 'deals', 'deals': 'deals',
           'leads': 'leads', 'tasks': 'tasks'}
def target(path):
    """The spec that owns a path: legacy (/crm/v3/objects/...) or dated (/crm/objects/2026-09/...)."""
    p = path.split('?')[0]
    m = re.match(r'/crm/(?:v3/objects|objects/\d{4}-\d{2})/([^/]+)/[^/]+/associations/', p) \
        or re.match(r'/crm/v4/objects/', p)
    if m: return 'associations'
    m = re.match(r'/crm/(?:v3/objects|objects/\d{4}-\d{2})/([^/]+)', p)
    if m: return OBJECTS[m.group(1)]
    family = re.match(r'/crm/(?:v\d/)?([a-z-]+)', p).group(1)
    if family == 'associations' and p.endswith('/labels'): return 'associationsSchema'
    return {'properties': 'properties', 'pipelines': 'pipelines', 'owners': 'owners',
            'associations': 'associations', 'property-validations': 'validations'}[family]
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    def go(self):
        n = int(self.headers.get('Content-Length') or 0)
        body = self.rfile.read(n) if n else None
        spec = target(self.path)
        with LOG:
            print(spec, flush=True)
        req = urllib.request.Request(f'http://127.0.0.1:{PORTS[spec]}{self.path}', data=body, method=self.command)
        for k in ('Authorization', 'Content-Type'):
            if self.headers.get(k): req.add_header(k, self.headers[k])
        try:
            r = urllib.request.urlopen(req, timeout=60); status, headers, data = r.status, r.headers, r.read()
        except urllib.error.HTTPError as e:
            status, headers, data = e.code, e.headers, e.read()
        viol = headers.get('sl-violations')
        if viol or status == 422:
            sys.stderr.write(f'VIOLATION {spec} {self.command} {self.path} {status} {viol} {data[:600]!r}\n')
        self.send_response(status)
        for k, v in headers.items():
            if k.lower().startswith('x-hubspot') or k.lower() in ('content-type', 'retry-after'):
                self.send_header(k, v)
        self.send_header('Content-Length', str(len(data)))
        self.end_headers(); self.wfile.write(data)
    do_GET = do_POST = do_PUT = do_PATCH = go
    def log_message(self, *a): pass
class S(socketserver.ThreadingMixIn, http.server.HTTPServer): daemon_threads = True
S(('127.0.0.1', int(sys.argv[1])), H).serve_forever()
