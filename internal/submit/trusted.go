package submit

import (
	"log/slog"
	"os"
	"os/user"
	"strconv"
)

// TrustedUIDs are the uids SenderCheck lets use any sender, as sendmail's
// trusted users: root, the server's own user (the process runs as it by
// the time the stages are built) and the named users; an unknown name is
// logged and left out.
func TrustedUIDs(names []string, log *slog.Logger) map[int]bool {
	trusted := map[int]bool{0: true, os.Geteuid(): true}
	for _, name := range names {
		u, err := user.Lookup(name)
		if err != nil {
			log.Warn("local: trusted user unknown", "user", name)
			continue
		}
		if uid, err := strconv.Atoi(u.Uid); err == nil {
			trusted[uid] = true
		}
	}
	return trusted
}
