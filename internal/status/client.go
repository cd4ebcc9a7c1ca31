package status

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"postern/internal/metrics"
)

// adminTimeout bounds a request to the admin listener.
const adminTimeout = 3 * time.Second

// Fetch asks the running server on its admin listener (address "": off)
// for its status; when it cannot, live is false and why says why.
func Fetch(ctx context.Context, e Endpoint) (st metrics.Status, live bool, why string) {
	address := e.String()
	if e.Address == "" {
		return st, false, "the admin listener is off ([admin] address = \"\")"
	}
	resp, err := adminRequest(ctx, http.MethodGet, e, "/status")
	if err != nil {
		return st, false, "no answer on " + address
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return st, false, address + " answered " + resp.Status
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 4<<20)).Decode(&st); err != nil {
		return st, false, "bad status from " + address + ": " + err.Error()
	}
	return st, true, ""
}

// Reload asks the running server to reread its maps and users now and
// says what happened.
func Reload(ctx context.Context, e Endpoint) string {
	const later = "the running server rereads the map within 5 seconds (or send it SIGHUP)"
	if e.Address == "" {
		return later
	}
	resp, err := adminRequest(ctx, http.MethodPost, e, "/reload")
	if err != nil {
		return "server not reached on the admin address: " + later
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Sprintf("the server's reload failed (%s): %s", resp.Status, strings.TrimSpace(string(body)))
	}
	return "the running server reloaded its maps"
}

func adminRequest(ctx context.Context, method string, e Endpoint, path string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, e.url(path), nil)
	if err != nil {
		return nil, err
	}
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "text/plain")
	}
	return e.client().Do(req)
}
