#!/usr/bin/env python3
# Route each HubSpot API path to the Prism proxy validating it against HubSpot's own spec.
import http.server, socketserver, sys, urllib.request, re
PORTS = dict(x.split('=') for x in sys.argv[2:])
def target(path):
    p = path.split('?')[0]
    m = re.match(r'/crm/v3/objects/([^/]+)', p)
    if m: return {'companies':'companies','contacts':'contacts','0-3':'deals','deals':'deals','leads':'leads','tasks':'tasks'}[m.group(1)]
    if p.startswith('/crm/v3/properties'): return 'properties'
    if p.startswith('/crm/v3/pipelines'): return 'pipelines'
    if p.startswith('/crm/v3/owners'): return 'owners'
    if p.endswith('/labels'): return 'associationsSchema'
    if p.startswith('/crm/v4/associations'): return 'associations'
    raise KeyError(p)
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    def go(self):
        n = int(self.headers.get('Content-Length') or 0)
        body = self.rfile.read(n) if n else None
        spec = target(self.path)
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
