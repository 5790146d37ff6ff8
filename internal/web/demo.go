package web

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/writepath/writepath/internal/problem"
)

// maxFaultsBody bounds a fault switch relayed to the provider.
const maxFaultsBody = 4 << 10

// demoConfig is what the pages learn from /demo/config.json.
type demoConfig struct {
	APIKey string `json:"api_key"`
	Demo   bool   `json:"demo"`
	// Faults says whether /demo/faults works: the provider is built in.
	Faults bool `json:"faults"`
}

// demoConfig hands the pages the demo tenant's API key. It exists only with
// Options.Demo: the demo tenant is a toy, and no other key is ever served.
func (h *handler) demoConfig(w http.ResponseWriter, r *http.Request) {
	key := ""
	if h.opts.DemoKey != nil {
		key = h.opts.DemoKey()
	}
	if !h.opts.Demo || key == "" {
		notFound(w, r)
		return
	}
	body, _ := json.Marshal(demoConfig{APIKey: key, Demo: true, Faults: h.opts.ProviderURL != ""})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	_, _ = w.Write(body)
}

// faults relays GET and PUT /demo/faults to the built-in provider's
// /_control/faults and passes its answer back as it is. The browser cannot
// call the provider itself: it listens on a port of its own, another origin.
func (h *handler) faults(w http.ResponseWriter, r *http.Request) {
	if !h.opts.Demo || h.opts.ProviderURL == "" {
		notFound(w, r)
		return
	}
	if r.Method == http.MethodPut &&
		!strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		problem.Write(w, problem.New(problem.UnsupportedMediaType,
			"Send the faults as Content-Type: application/json."))
		return
	}

	var body io.Reader // none for GET: the provider sees a plain read
	if r.Method == http.MethodPut {
		body = http.MaxBytesReader(w, r.Body, maxFaultsBody)
	}
	url := strings.TrimRight(h.opts.ProviderURL, "/") + "/_control/faults"
	req, err := http.NewRequestWithContext(r.Context(), r.Method, url, body)
	if err != nil {
		h.relayFailed(w, r, err)
		return
	}
	if r.Method == http.MethodPut {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := h.opts.Client.Do(req)
	if err != nil {
		h.relayFailed(w, r, err)
		return
	}
	defer resp.Body.Close()

	w.Header().Set("Content-Type", resp.Header.Get("Content-Type"))
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, io.LimitReader(resp.Body, 64<<10))
}

func (h *handler) relayFailed(w http.ResponseWriter, r *http.Request, err error) {
	h.log.WarnContext(r.Context(), "relay provider faults", slog.Any("error", err))
	problem.Write(w, problem.New(problem.InternalError,
		"The payment provider's fault switches did not answer; retry."))
}
