package console

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/bcrypt"
)

// Role is what a user may do: a viewer reads, an operator also changes.
type Role string

// The two roles.
const (
	RoleViewer   Role = "viewer"
	RoleOperator Role = "operator"
)

// User is one account: a name, a role and a bcrypt hash of its password.
type User struct {
	Name string
	Role Role
	Hash []byte
}

// ParseUsers reads accounts, one per line or separated by commas:
// "name:role:bcrypt-hash" (role viewer or operator). Blank lines and lines
// starting with # are skipped. src names the source in errors; the hashes
// are never shown.
func ParseUsers(src, text string) ([]User, error) {
	var users []User
	var errs []error
	seen := map[string]bool{}
	lines := strings.FieldsFunc(text, func(r rune) bool { return r == '\n' || r == ',' })
	for i, line := range lines {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, rest, ok1 := strings.Cut(line, ":")
		role, hash, ok2 := strings.Cut(rest, ":")
		where := fmt.Sprintf("%s: entry %d", src, i+1)
		switch {
		case !ok1 || !ok2 || name == "":
			errs = append(errs, fmt.Errorf("%s: expected name:role:bcrypt-hash", where))
			continue
		case Role(role) != RoleViewer && Role(role) != RoleOperator:
			errs = append(errs, fmt.Errorf("%s: user %q: role %q must be viewer or operator", where, name, role))
			continue
		case seen[name]:
			errs = append(errs, fmt.Errorf("%s: user %q is listed twice", where, name))
			continue
		}
		if _, err := bcrypt.Cost([]byte(hash)); err != nil {
			errs = append(errs, fmt.Errorf("%s: user %q: the hash is not a bcrypt hash (make one with \"tbsctl console -hash-password\")", where, name))
			continue
		}
		seen[name] = true
		users = append(users, User{Name: name, Role: Role(role), Hash: []byte(hash)})
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return users, nil
}

// HashPassword returns the bcrypt hash of a password for a users file.
func HashPassword(password string) (string, error) {
	if len(password) < 8 {
		return "", errors.New("console: the password must have at least 8 characters")
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	return string(h), err
}

// oneTimeUser makes the operator "admin" with a random password, for a
// console started without accounts; the password is returned to print.
func oneTimeUser() (User, string, error) {
	b := make([]byte, 15)
	if _, err := rand.Read(b); err != nil {
		return User{}, "", err
	}
	pw := base64.RawURLEncoding.EncodeToString(b)
	// 120 random bits need no slow hash to resist guessing: the lowest cost.
	h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
	if err != nil {
		return User{}, "", err
	}
	return User{Name: "admin", Role: RoleOperator, Hash: h}, pw, nil
}

// check returns the user if name and password match one.
func check(users []User, name, password string) (User, bool) {
	for _, u := range users {
		if u.Name == name {
			if bcrypt.CompareHashAndPassword(u.Hash, []byte(password)) == nil {
				return u, true
			}
			return User{}, false
		}
	}
	if len(users) > 0 { // as long as a wrong password, so a name's existence does not show
		_ = bcrypt.CompareHashAndPassword(users[0].Hash, []byte("\x00"+password))
	}
	return User{}, false
}
