package dmarcreport

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// adoptedKey marks a node's own store as handed to the fleet's.
const adoptedKey = "adopted-by-shared-store"

// Adopt hands this node's own store in dir (the file backend it used
// before [ratelimit] moved to a shared engine) to shared, once: the
// record of the reports it sent, so that the fleet does not send them
// again, and the evaluations of the periods it had not reported yet, so
// that they are reported by the fleet. A dir without a store, or one
// already adopted, is left alone. The store is marked adopted before
// the evaluations are copied: a crash in between loses them from the
// reports rather than counting them twice.
func Adopt(ctx context.Context, dir string, shared Backend, log *slog.Logger) error {
	if _, err := os.Stat(filepath.Join(dir, "sent")); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	local, err := NewFileBackend(dir, log)
	if err != nil {
		return err
	}
	defer local.Close()
	if done, err := local.Claimed(ctx, adoptedKey); err != nil || done {
		return err
	}
	keys, err := os.ReadDir(filepath.Join(dir, "sent"))
	if err != nil {
		return err
	}
	var reported time.Time // the end of the last period fully reported here
	for _, de := range keys {
		k := de.Name()
		if _, err := shared.Claim(ctx, k); err != nil {
			return fmt.Errorf("%s: copying the record of reports sent: %w", dir, err)
		}
		if _, end, ok := claimPeriod(k); ok && !strings.Contains(k, ".sent-") && end.After(reported) {
			reported = end
		}
	}
	if _, err := local.Claim(ctx, adoptedKey); err != nil {
		return err
	}
	if reported.IsZero() {
		reported = time.Now().Add(-Retention)
	}
	n := 0
	err = local.Scan(ctx, reported, time.Now().Add(time.Hour), func(e Evaluation) error {
		n++
		return shared.Append(ctx, e)
	})
	if err != nil {
		return fmt.Errorf("%s: copying the evaluations not reported yet: %w", dir, err)
	}
	log.InfoContext(ctx, "dmarc: this node's own report store is handed to the shared one",
		"dir", dir, "reports_recorded", len(keys), "evaluations_copied", n, "from", reported)
	return nil
}
