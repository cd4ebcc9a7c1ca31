package mailauth

import (
	"context"
	"io"
	"log/slog"
	"strings"

	"postern/internal/dmarcreport"
	"postern/internal/inbound"
)

// ReportInbox reads the DMARC aggregate reports that arrive for our own
// domains ([dmarc] report_inbox) into the received-report store, for
// `postern dmarc report`. The message is then delivered as usual, so
// nothing is lost when a report cannot be read; a mailbox rule may file
// or delete them.
type ReportInbox struct {
	Addr  string // the report address, normalised (local@domain)
	Store dmarcreport.ReceivedStore
	Log   *slog.Logger
}

// CheckData imports a message whose only recipient is the report address.
func (r *ReportInbox) CheckData(ctx context.Context, t *inbound.Txn, m *inbound.Message) *inbound.Verdict {
	if len(t.Env.Rcpts) != 1 || !strings.EqualFold(t.Env.Rcpts[0].Addr, r.Addr) {
		return nil
	}
	if m.Size() > dmarcreport.MaxReportBytes {
		r.Log.InfoContext(ctx, "dmarc report message too large to import", "from", t.Env.From, "size", m.Size())
		return nil
	}
	data, err := io.ReadAll(m.Reader())
	if err != nil {
		r.Log.WarnContext(ctx, "dmarc report not imported", "from", t.Env.From, "err", err)
		return nil
	}
	fs, err := r.Store.Import(data)
	if err != nil {
		r.Log.InfoContext(ctx, "dmarc report not imported", "from", t.Env.From, "err", err)
	}
	for _, f := range fs {
		r.Log.InfoContext(ctx, "dmarc report imported", "org", f.Metadata.OrgName, "report_id", f.Metadata.ReportID,
			"domain", f.Policy.Domain, "records", len(f.Records))
	}
	return nil
}
