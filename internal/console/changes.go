package console

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"postern/internal/changelog"
)

// maxChanges bounds the entries the Changes page lists.
const maxChanges = 500

type changeRow struct {
	changelog.Entry
	ThisWeek bool
}

type changesBody struct {
	Rows    []changeRow
	Week    int    // entries of the last seven days
	Missing string // why there is no list
}

// changesList lists the change log, newest first, the last seven days
// marked.
func (c *Console) changesList(w http.ResponseWriter, r *http.Request, s *session) {
	var b changesBody
	if c.o.Changes == nil {
		b.Missing = "The change log is not kept by this server."
		render(w, http.StatusOK, "changes", pageView(s, "changes", "Changes", b))
		return
	}
	entries, err := c.o.Changes.List()
	if err != nil {
		b.Missing = "The change log cannot be read: " + err.Error()
		render(w, http.StatusInternalServerError, "changes", pageView(s, "changes", "Changes", b))
		return
	}
	week := c.o.Now().Add(-7 * 24 * time.Hour)
	for i, e := range entries {
		if i == maxChanges {
			break
		}
		row := changeRow{Entry: e, ThisWeek: e.Time.After(week)}
		if row.ThisWeek {
			b.Week++
		}
		b.Rows = append(b.Rows, row)
	}
	render(w, http.StatusOK, "changes", pageView(s, "changes", "Changes", b))
}

type diffLine struct{ Class, Text string }

type changeBody struct {
	Entry changelog.Entry
	Diff  []diffLine
	Check []string
}

// changesEntry shows one entry with its diff.
func (c *Console) changesEntry(w http.ResponseWriter, r *http.Request, s *session) {
	n, err := strconv.Atoi(r.PathValue("n"))
	if err != nil || n < 1 || c.o.Changes == nil {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	e, err := c.o.Changes.Get(n)
	if err != nil {
		http.Error(w, "not found: "+err.Error(), http.StatusNotFound)
		return
	}
	b := changeBody{Entry: e, Check: strings.Split(strings.TrimRight(e.Check, "\n"), "\n")}
	for _, l := range strings.Split(strings.TrimRight(e.Diff, "\n"), "\n") {
		class := ""
		switch {
		case strings.HasPrefix(l, "+++"), strings.HasPrefix(l, "---"), strings.HasPrefix(l, "@@"):
			class = "note"
		case strings.HasPrefix(l, "+"):
			class = "add"
		case strings.HasPrefix(l, "-"):
			class = "del"
		}
		if e.Diff != "" {
			b.Diff = append(b.Diff, diffLine{Class: class, Text: l})
		}
	}
	render(w, http.StatusOK, "change", pageView(s, "changes", "Change "+strconv.Itoa(n), b))
}
