package console

import (
	"net/http"
	"strings"
)

// loginFailed is the one answer to every failed login, whatever failed:
// nobody learns which addresses exist or are admins.
const loginFailed = "Wrong address or password, or not an admin."

// usersUnavailable is the answer while the users cannot be read.
const usersUnavailable = "The users cannot be read now (see postern status); try again later."

type loginBody struct{ Error string }

func (c *Console) loginPage(w http.ResponseWriter, r *http.Request) {
	render(w, http.StatusOK, "login", view{Title: "Log in", Body: loginBody{}})
}

// login checks the lock-out first (shared with SMTP AUTH), then the
// password and the admin role; a failure counts toward the lock-out.
func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	if !parsePost(w, r) {
		return
	}
	ip := clientIP(r)
	user := strings.TrimSpace(r.PostForm.Get("user"))
	if c.o.Lockout != nil {
		if err := c.o.Lockout.LoginLocked(r.Context(), ip); err != nil {
			c.o.Log.Warn("console login refused", "client", ip.String(), "user", user, "err", err)
			render(w, http.StatusTooManyRequests, "login", view{Title: "Log in", Body: loginBody{Error: err.Error()}})
			return
		}
	}
	if u, ok := c.o.Users.(interface{ UnavailableText() string }); ok && u.UnavailableText() != "" {
		// A users table not read past its stale period: nobody's
		// password can be checked, and no failure is counted.
		c.o.Log.Error("console login deferred: the users cannot be read", "client", ip.String(), "user", user, "why", u.UnavailableText())
		render(w, http.StatusServiceUnavailable, "login", view{Title: "Log in", Body: loginBody{Error: usersUnavailable}})
		return
	}
	if !c.o.Users.VerifyAdmin(user, r.PostForm.Get("password")) {
		msg := loginFailed
		if c.o.Lockout != nil {
			if err := c.o.Lockout.LoginFailed(r.Context(), ip, user); err != nil {
				msg = err.Error()
			}
		}
		c.o.Log.Warn("console login failed", "client", ip.String(), "user", user)
		render(w, http.StatusUnauthorized, "login", view{Title: "Log in", Body: loginBody{Error: msg}})
		return
	}
	s := c.sessions.start(strings.ToLower(user))
	setCookie(w, s.id, 0)
	c.o.Log.Info("console login", "client", ip.String(), "user", s.user)
	http.Redirect(w, r, "/console/", http.StatusSeeOther)
}

func (c *Console) logout(w http.ResponseWriter, r *http.Request, s *session) {
	c.sessions.end(s.id)
	setCookie(w, "", -1)
	c.o.Log.Info("console logout", "client", clientIP(r).String(), "user", s.user)
	http.Redirect(w, r, "/console/login", http.StatusSeeOther)
}
