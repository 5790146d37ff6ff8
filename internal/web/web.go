package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"log/slog"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/writepath/writepath/internal/problem"
)

//go:embed pages static
var files embed.FS

// contentSecurityPolicy lets the pages run their own scripts and styles and
// talk to their own origin, and nothing else: no inline code, no third
// parties, no framing.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; " +
	"img-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; " +
	"frame-ancestors 'none'"

// contentTypes are the media types of the embedded files, by extension. The
// table is ours rather than the system's, which maps .ts to MPEG video on
// some machines.
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".ts":   "text/plain; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".svg":  "image/svg+xml",
}

// Options configure the handler New returns.
type Options struct {
	// Demo serves the demo tenant's API key at /demo/config.json and, with
	// ProviderURL, the provider's fault switches at /demo/faults. False
	// means both answer 404 and the pages ask for an API key.
	Demo bool

	// DemoKey returns the demo tenant's API key. It is asked on every
	// request, so that the key may be created after the handler. Nil, or an
	// empty answer, means no key is served.
	DemoKey func() string

	// ProviderURL is the base URL of the built-in fake payment provider,
	// whose /_control/faults /demo/faults relays. Empty means no fault
	// switches: an external provider is not the demo's to break.
	ProviderURL string

	// Client relays requests to the provider. Nil means a client with a
	// five-second timeout.
	Client *http.Client

	// Logger receives relay failures. Nil means slog.Default().
	Logger *slog.Logger
}

// asset is one embedded file, ready to serve.
type asset struct {
	name  string
	body  []byte
	etag  string
	ctype string
}

// handler serves the pages, the static files and the demo endpoints.
type handler struct {
	opts   Options
	log    *slog.Logger
	assets map[string]asset // by URL path
	mux    *http.ServeMux
}

// New returns the web UI's handler. It answers these patterns, which the
// API server mounts one by one so that its own 404 for unknown paths stays:
// "GET /{$}", "GET /ops", "GET /static/", "GET /demo/config.json" and
// "GET /demo/faults", "PUT /demo/faults".
func New(opts Options) http.Handler {
	if opts.Client == nil {
		opts.Client = &http.Client{Timeout: 5 * time.Second}
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	h := &handler{
		opts:   opts,
		log:    opts.Logger.With(slog.String("component", "web")),
		assets: loadAssets(),
		mux:    http.NewServeMux(),
	}
	h.mux.HandleFunc("GET /{$}", h.page("/pages/index.html"))
	h.mux.HandleFunc("GET /ops", h.page("/pages/ops.html"))
	h.mux.HandleFunc("GET /static/", h.static)
	h.mux.HandleFunc("GET /demo/config.json", h.demoConfig)
	h.mux.HandleFunc("GET /demo/faults", h.faults)
	h.mux.HandleFunc("PUT /demo/faults", h.faults)
	h.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		notFound(w, r)
	})
	return h
}

// ServeHTTP sets the security headers every answer carries and routes.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", contentSecurityPolicy)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("X-Frame-Options", "DENY")
	h.mux.ServeHTTP(w, r)
}

// loadAssets reads every embedded file once, with an ETag from its content
// so that browsers revalidate cheaply and never run a stale script.
func loadAssets() map[string]asset {
	out := map[string]asset{}
	err := fs.WalkDir(files, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := files.ReadFile(name)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		ctype := contentTypes[path.Ext(name)]
		if ctype == "" {
			ctype = "application/octet-stream"
		}
		out["/"+name] = asset{name: name, body: body, ctype: ctype,
			etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
		return nil
	})
	if err != nil {
		panic("web: reading embedded files: " + err.Error()) // a build defect
	}
	return out
}

// page serves one embedded HTML page.
func (h *handler) page(name string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { h.serve(w, r, name) }
}

// static serves the files under /static/; nothing else of the embedded tree
// is reachable by path.
func (h *handler) static(w http.ResponseWriter, r *http.Request) {
	h.serve(w, r, r.URL.Path)
}

func (h *handler) serve(w http.ResponseWriter, r *http.Request, name string) {
	a, ok := h.assets[name]
	if !ok || strings.HasSuffix(name, "/") {
		notFound(w, r)
		return
	}
	w.Header().Set("Content-Type", a.ctype)
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("ETag", a.etag)
	http.ServeContent(w, r, a.name, time.Time{}, bytes.NewReader(a.body))
}

func notFound(w http.ResponseWriter, r *http.Request) {
	problem.Write(w, problem.New(problem.NotFound, "There is nothing at "+r.URL.Path+"."))
}
