package problem

import (
	"bytes"
	"html/template"
	"net/http"
)

// Pages returns the handler of the problem pages, to be mounted at
// /problems/: GET /problems/ lists every problem, and GET /problems/{name}
// explains one (404 with a page that points at the list for a name that is not
// in the catalogue). Pages are HTML built from the catalogue, self-contained
// and safe to cache for an hour.
func Pages() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /problems/{$}", serveIndex)
	mux.HandleFunc("GET /problems/{name}", serveProblem)
	mux.HandleFunc("GET /problems/", serveUnknown) // deeper paths name nothing
	return mux
}

func serveIndex(w http.ResponseWriter, r *http.Request) {
	render(w, http.StatusOK, "index", catalogue)
}

func serveProblem(w http.ResponseWriter, r *http.Request) {
	k, ok := byName[r.PathValue("name")]
	if !ok {
		serveUnknown(w, r)
		return
	}
	render(w, http.StatusOK, "problem", k)
}

func serveUnknown(w http.ResponseWriter, r *http.Request) {
	render(w, http.StatusNotFound, "unknown", r.URL.Path)
}

// render executes the named page into a buffer before sending anything, so
// that a template error becomes a clean 500 rather than half a page.
func render(w http.ResponseWriter, status int, page string, data any) {
	var buf bytes.Buffer
	if err := pages.ExecuteTemplate(&buf, page, data); err != nil {
		http.Error(w, "problem page failed to render", http.StatusInternalServerError)
		return
	}

	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "public, max-age=3600")
	h.Set("X-Content-Type-Options", "nosniff")
	// The pages load nothing: forbid everything but their inline style.
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")

	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// pages holds the three pages and the layout they share.
var pages = template.Must(template.New("pages").Parse(pagesHTML))

const pagesHTML = `
{{define "top"}}<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.}} · writepath API</title>
<style>
body { font: 16px/1.55 system-ui, sans-serif; color: #1f2328; background: #fff;
  max-width: 42rem; margin: 3rem auto; padding: 0 1.25rem; }
h1 { font-size: 1.6rem; margin: 0 0 .25rem; }
h2 { font-size: 1.05rem; margin: 1.75rem 0 .25rem; }
p { margin: .25rem 0; }
.meta { color: #59636e; }
code { font: .9em ui-monospace, monospace; background: #f3f4f6; padding: .1em .3em;
  border-radius: 4px; }
table { border-collapse: collapse; width: 100%; margin-top: 1rem; }
td, th { text-align: left; padding: .4rem .6rem .4rem 0; border-bottom: 1px solid #e5e7eb;
  vertical-align: top; }
a { color: #0b57d0; }
footer { margin-top: 2.5rem; font-size: .9rem; }
</style>
</head>
<body>
{{end}}

{{define "bottom"}}
<footer><a href="/problems/">All problem types</a></footer>
</body>
</html>
{{end}}

{{define "problem"}}{{template "top" .Title}}
<h1>{{.Title}}</h1>
<p class="meta">HTTP {{.Status}} {{.StatusText}} · type <code>/problems/{{.Name}}</code></p>
<h2>What it means</h2>
<p>{{.Meaning}}</p>
<h2>What to do</h2>
<p>{{.Action}}</p>
{{template "bottom"}}{{end}}

{{define "index"}}{{template "top" "Problem types"}}
<h1>Problem types</h1>
<p class="meta">Errors of the writepath API are
<code>application/problem+json</code> documents (RFC 9457) whose <code>type</code>
is one of these pages.</p>
<table>
<tr><th>Status</th><th>Type</th><th>Title</th></tr>
{{range .}}<tr><td>{{.Status}}</td>
<td><a href="/problems/{{.Name}}"><code>{{.Name}}</code></a></td><td>{{.Title}}</td></tr>
{{end}}</table>
{{template "bottom"}}{{end}}

{{define "unknown"}}{{template "top" "Unknown problem type"}}
<h1>Unknown problem type</h1>
<p class="meta">HTTP 404 Not Found · <code>{{.}}</code></p>
<p>The writepath API has no problem type at this address.
<a href="/problems/">The list of problem types</a> shows every one it answers with.</p>
{{template "bottom"}}{{end}}
`
