package metrics

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Status is what /status answers (JSON) and `postern status` shows.
type Status struct {
	Hostname  string         `json:"hostname"`
	Started   time.Time      `json:"started"`
	Listeners []ListenerInfo `json:"listeners"`
	// Limits in force, by config key, as text.
	Limits  map[string]string `json:"limits"`
	Queue   QueueStats        `json:"queue"`
	Rejects []Reject          `json:"recent_rejects"`
	// Alerts lists users and scopes whose outbound rate tripped and are
	// still under the alert action.
	Alerts []string `json:"alerts"`
	// Problems lists what the server could not load and works around
	// (a map or the users file kept at its previous version), one line
	// each, naming the file and the fix.
	Problems []string `json:"problems"`
	// Sandbox says whether the server is confined (Landlock), and why
	// not.
	Sandbox string `json:"sandbox"`
}

// ListenerInfo names one SMTP listener.
type ListenerInfo struct {
	Name    string `json:"name"`
	Address string `json:"address"`
	Mode    string `json:"mode"`
}

// AdminOptions configure the admin listener.
type AdminOptions struct {
	// Status fills the static part of /status (hostname, listeners,
	// limits); queue and recent rejects are added from the Metrics.
	Status Status
	// Alerts returns the active alerts; nil means none.
	Alerts func() []string
	// Problems returns the current Status.Problems; nil means none.
	Problems func() []string
	// Sandbox returns the Status.Sandbox line; nil means none.
	Sandbox func() string
	// Healthy reports whether the server can take mail (nil: always).
	Healthy func() error
	// Reload rereads maps and users (POST /reload, as SIGHUP does);
	// nil means 404. Only loopback should reach the admin listener.
	Reload func() error
	// Console, when set, serves the web console under /console/ (and /
	// leads there).
	Console http.Handler
	// TLS, when set, serves the listener over TLS ([admin] tls).
	TLS *tls.Config
}

// Handler serves /metrics, /healthz and /status.
func (m *Metrics) Handler(opt AdminOptions) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if opt.Healthy != nil {
			if err := opt.Healthy(); err != nil {
				w.WriteHeader(http.StatusServiceUnavailable)
				w.Write([]byte("unhealthy: " + err.Error() + "\n"))
				return
			}
		}
		w.Write([]byte("ok\n"))
	})
	if opt.Reload != nil {
		mux.HandleFunc("POST /reload", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			// A browser says where a form came from; postern's own client
			// sends no Origin. No web page may reload the server.
			if r.Header.Get("Origin") != "" || r.Header.Get("Sec-Fetch-Site") == "cross-site" {
				http.Error(w, "forbidden: reload is for postern's own client", http.StatusForbidden)
				return
			}
			if err := opt.Reload(); err != nil {
				w.WriteHeader(http.StatusInternalServerError)
				w.Write([]byte("reload failed: " + err.Error() + "\n"))
				return
			}
			w.Write([]byte("reloaded\n"))
		})
	}
	if opt.Console != nil {
		mux.Handle("/console/", opt.Console)
		mux.Handle("GET /{$}", http.RedirectHandler("/console/", http.StatusSeeOther))
	}
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		st := opt.Status
		st.Queue = m.Queue()
		st.Rejects = m.RecentRejects()
		if opt.Alerts != nil {
			st.Alerts = opt.Alerts()
		}
		if opt.Problems != nil {
			st.Problems = opt.Problems()
		}
		if opt.Sandbox != nil {
			st.Sandbox = opt.Sandbox()
		}
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(st)
	})
	return mux
}

// Serve runs the admin listener on ln until ctx ends.
func (m *Metrics) Serve(ctx context.Context, ln net.Listener, log *slog.Logger, opt AdminOptions) error {
	srv := &http.Server{
		Handler:           m.Handler(opt),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	done := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			srv.Shutdown(sctx)
		case <-done:
		}
	}()
	defer close(done)
	if opt.TLS != nil {
		ln = tls.NewListener(ln, opt.TLS)
	}
	err := srv.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}
