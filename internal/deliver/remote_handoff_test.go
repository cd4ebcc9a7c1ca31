package deliver

import (
	"context"
	"strings"
	"testing"

	"postern/internal/dnstest"
)

// A recipient delivered to a next hop carries the hop's name and reply,
// and whether the hop offered DSN (and so got NOTIFY and ORCPT): that
// decides whether postern itself owes a "relayed" notice.
func TestRemoteHandoffs(t *testing.T) {
	for _, withDSN := range []bool{false, true} {
		ext := []string{"PIPELINING", "8BITMIME"}
		if withDSN {
			ext = append(ext, "DSN")
		}
		rx := startReceiver(t, &receiver{Ext: ext, Reply: func(cmd string, n int) string {
			if strings.Contains(cmd, "<nobody@") {
				return "550 5.1.1 no such user"
			}
			return ""
		}})
		r := newRemote(t, dnstest.Zone{"example.net. MX": {"5 mx.example.net."}, "mx.example.net. A": {"127.0.0.1"}}, rx.Port)
		env, rcpts, body := message("H1", "a@example.org", body1, "b@example.net", "nobody@example.net")
		env.DSNRet, env.EnvID = "HDRS", "e1"
		rcpts[0].Notify, rcpts[0].ORCPT = "SUCCESS", "rfc822;b@example.net"
		errs, hand := r.DeliverHandoffs(context.Background(), env, rcpts, body)
		if len(errs) != 2 || len(hand) != 2 {
			t.Fatalf("dsn=%v: %d results, %d handoffs", withDSN, len(errs), len(hand))
		}
		if errs[0] != nil {
			t.Fatalf("dsn=%v: %v", withDSN, errs[0])
		}
		wantReply(t, "refused recipient", errs[1], 550, "5.1.1")
		h := hand[0]
		if h.RemoteMTA != "mx.example.net" || h.Reply != "250 2.0.0 queued" || h.DSN != withDSN {
			t.Errorf("dsn=%v: handoff %+v", withDSN, h)
		}
		if h.Relayed() == withDSN || h.Passed() != withDSN {
			t.Errorf("dsn=%v: Relayed %v Passed %v", withDSN, h.Relayed(), h.Passed())
		}
		if hand[1].RemoteMTA != "" {
			t.Errorf("dsn=%v: handoff for a refused recipient: %+v", withDSN, hand[1])
		}
		cmds := strings.Join(rx.Commands(), "\n")
		sent := strings.Contains(cmds, "NOTIFY=SUCCESS ORCPT=rfc822;b@example.net") && strings.Contains(cmds, "RET=HDRS ENVID=e1")
		if sent != withDSN {
			t.Errorf("dsn=%v: DSN parameters sent %v:\n%s", withDSN, sent, cmds)
		}

		// DeliverTo, as the mailertable routes use it, tells the same.
		env2, rcpts2, body2 := message("H2", "a@example.org", body1, "c@example.net")
		errs, hand = r.DeliverToHandoffs(context.Background(), Destination{Domain: "example.net"}, env2, rcpts2, body2)
		if errs[0] != nil || hand[0].RemoteMTA != "mx.example.net" || hand[0].DSN != withDSN {
			t.Errorf("dsn=%v: DeliverToHandoffs %v %+v", withDSN, errs[0], hand[0])
		}
	}
}
