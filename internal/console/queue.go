package console

import (
	"errors"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"postern/internal/control"
	"postern/internal/spool"
)

// PageSize is how many messages a queue page lists.
const PageSize = 50

type queueSummary struct {
	Total, Held, Deferred int
	Oldest                time.Time
}

func summarize(items []spool.Item, now time.Time) queueSummary {
	q := queueSummary{Total: len(items)}
	for _, it := range items {
		if it.Held {
			q.Held++
		}
		if it.Attempts > 0 {
			q.Deferred++
		}
		if q.Oldest.IsZero() || it.Arrived.Before(q.Oldest) {
			q.Oldest = it.Arrived
		}
	}
	return q
}

type queueRow struct {
	spool.Item
	Subject string
}

type queueBody struct {
	Query            string
	Rows             []queueRow
	Matched, Total   int
	Page, Pages      int
	PrevURL, NextURL string
}

// queueList is the queue, newest first, PageSize a page, searched by id,
// sender, recipient or subject (case-insensitively, a substring).
func (c *Console) queueList(w http.ResponseWriter, r *http.Request, s *session) {
	items := c.o.Queue.Items()
	c.subjects.prune(items)
	sort.SliceStable(items, func(i, j int) bool { return items[i].Arrived.After(items[j].Arrived) })
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	b := queueBody{Query: q, Total: len(items)}
	var subjects map[string]string
	if q != "" {
		subjects = c.subjects.get(items)
		items = search(items, subjects, strings.ToLower(q))
	}
	b.Matched = len(items)
	b.Pages = max((len(items)+PageSize-1)/PageSize, 1)
	b.Page, _ = strconv.Atoi(r.URL.Query().Get("page"))
	b.Page = min(max(b.Page, 1), b.Pages)
	items = items[(b.Page-1)*PageSize : min(b.Page*PageSize, len(items))]
	if subjects == nil {
		subjects = c.subjects.get(items)
	}
	for _, it := range items {
		b.Rows = append(b.Rows, queueRow{Item: it, Subject: subjects[it.ID]})
	}
	page := func(n int) string {
		v := url.Values{"page": {strconv.Itoa(n)}}
		if q != "" {
			v.Set("q", q)
		}
		return "/console/queue?" + v.Encode()
	}
	if b.Page > 1 {
		b.PrevURL = page(b.Page - 1)
	}
	if b.Page < b.Pages {
		b.NextURL = page(b.Page + 1)
	}
	render(w, http.StatusOK, "queue", pageView(s, "queue", "Queue", b))
}

func search(items []spool.Item, subjects map[string]string, q string) []spool.Item {
	var out []spool.Item
	for _, it := range items {
		if matches(it, subjects[it.ID], q) {
			out = append(out, it)
		}
	}
	return out
}

func matches(it spool.Item, subject, q string) bool {
	if strings.Contains(strings.ToLower(it.ID), q) || strings.Contains(strings.ToLower(it.From), q) ||
		strings.Contains(strings.ToLower(subject), q) {
		return true
	}
	for _, r := range it.Rcpts {
		if strings.Contains(strings.ToLower(r), q) {
			return true
		}
	}
	return false
}

type messageBody struct {
	ID      string
	Detail  spool.Detail
	Subject string
	Actions []action
}

// action is one thing the console does to a message, with the control
// verb that does it.
type action struct {
	Name, Verb, Label, Warning string
}

var actions = []action{
	{"hold", control.VerbHold, "Hold", "The message stays in the queue, undelivered, until released."},
	{"release", control.VerbRelease, "Release", "The message is delivered again at its next retry."},
	{"retry", control.VerbFlush, "Retry now", "The message is tried at once."},
	{"delete", control.VerbRemove, "Delete", "The message is removed from the queue, with no bounce to the sender. This cannot be undone."},
}

func actionNamed(name string) (action, bool) {
	for _, a := range actions {
		if a.Name == name {
			return a, true
		}
	}
	return action{}, false
}

// queueMessage shows one message: its envelope, header and attempts; with
// ?do=ACTION, the confirmation of that action.
func (c *Console) queueMessage(w http.ResponseWriter, r *http.Request, s *session) {
	id := r.PathValue("id")
	d, err := spool.ReadDetail(c.o.SpoolDir, id)
	if errors.Is(err, os.ErrNotExist) {
		render(w, http.StatusNotFound, "confirm", pageView(s, "queue", "Not in the queue",
			confirmBody{ID: id, Result: "No message " + id + " is queued: it was delivered, bounced or removed."}))
		return
	}
	if err != nil {
		render(w, http.StatusInternalServerError, "confirm", pageView(s, "queue", "Unreadable queue file",
			confirmBody{ID: id, Result: "The queue file of " + id + " cannot be read: " + err.Error()}))
		return
	}
	if do := r.URL.Query().Get("do"); do != "" {
		a, ok := actionNamed(do)
		if !ok {
			http.Error(w, "bad request: unknown action", http.StatusBadRequest)
			return
		}
		render(w, http.StatusOK, "confirm", pageView(s, "queue", a.Label+" "+id+"?", confirmBody{ID: id, Action: a}))
		return
	}
	b := messageBody{ID: id, Detail: d, Subject: subjectOf(d.Header), Actions: actions}
	render(w, http.StatusOK, "message", pageView(s, "queue", "Message "+id, b))
}

type confirmBody struct {
	ID     string
	Action action
	Result string
	OK     bool
}

// queueAction carries out a confirmed action through control.Apply, as
// the control socket does, and writes it to the mail log with the
// console user.
func (c *Console) queueAction(w http.ResponseWriter, r *http.Request, s *session) {
	id := r.PathValue("id")
	a, ok := actionNamed(r.PostForm.Get("action"))
	if !ok {
		http.Error(w, "bad request: unknown action", http.StatusBadRequest)
		return
	}
	req, err := control.ParseRequest(a.Verb + " " + id)
	if err != nil {
		http.Error(w, "bad request: "+err.Error(), http.StatusBadRequest)
		return
	}
	text, err := control.Apply(c.o.Queue, req)
	b := confirmBody{ID: id, Action: a, Result: text, OK: err == nil}
	code := http.StatusOK
	if err != nil {
		c.o.Log.Info("console", "user", s.user, "client", clientIP(r).String(), "request", req.String(), "err", err)
		b.Result, code = a.Label+" "+id+" failed: "+err.Error(), http.StatusConflict
	} else {
		c.o.Log.Info("console", "user", s.user, "client", clientIP(r).String(), "request", req.String(), "result", text)
	}
	render(w, code, "confirm", pageView(s, "queue", a.Label+" "+id, b))
}
