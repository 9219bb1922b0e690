package memstore

import (
	"cmp"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tbschedule/tbschedule-go/schedule"
)

// DefaultSessionTimeout is the default ClientConfig.SessionTimeout.
const DefaultSessionTimeout = 10 * time.Second

// Config holds the settings of a Server. Config{} is a server whose nodes
// are writable by every client.
//
// New does not fail: a Config that is not valid (see the fields) gives a
// server every client of which fails every operation, Session and Now
// included, with an error that wraps schedule.ErrInvalid and names the
// field.
type Config struct {
	// Auth, when set, protects every node like zkstore's Config.Auth (a
	// ZooKeeper digest ACL): world-readable, writable only by clients whose
	// ClientConfig.Auth holds the same user and password. Other clients'
	// writes fail with schedule.ErrPermission. Nil: every node is writable
	// by every client. User and Password must not be empty; User must not
	// contain ':' or a newline.
	Auth *DigestAuth
}

// ClientConfig holds the settings of a Client. ClientConfig{} is a client
// with the default session timeout and no credentials.
//
// Server.Connect does not fail: a ClientConfig that is not valid (see the
// fields) gives a client whose every operation, Session and Now included,
// fails with an error that wraps schedule.ErrInvalid and names the field.
type ClientConfig struct {
	// SessionTimeout is the session timeout: a client cut off (see
	// Client.Disconnect) for longer than this loses its session. Default (0):
	// DefaultSessionTimeout. Must not be negative.
	SessionTimeout time.Duration
	// Auth is the digest identity of the client, as zkstore's Config.Auth:
	// it may write to a server whose Config.Auth holds the same user and
	// password. Nil: no credentials (enough for a server without Auth).
	// Checked as Config.Auth.
	Auth *DigestAuth
}

// DigestAuth is a digest identity ("user:password"), as in zkstore.
type DigestAuth struct {
	// User is the user name. Required, no ':'.
	User string
	// Password is the password. Required.
	Password string
}

// withDefaults returns c with every zero field set to its default: the one
// place they are applied (Connect uses it).
func (c ClientConfig) withDefaults() ClientConfig {
	c.SessionTimeout = cmp.Or(c.SessionTimeout, DefaultSessionTimeout)
	return c
}

// validate reports every problem of the configuration at once; each error
// wraps schedule.ErrInvalid and names the field.
func (c Config) validate() error {
	return validateAuth("Config", c.Auth)
}

// validate reports every problem of the configuration at once (zero fields
// take their defaults first); each error wraps schedule.ErrInvalid and names
// the field.
func (c ClientConfig) validate() error {
	c = c.withDefaults()
	var errs []error
	if c.SessionTimeout < 0 {
		errs = append(errs, fmt.Errorf("%w: ClientConfig.SessionTimeout (%v) must not be negative", schedule.ErrInvalid, c.SessionTimeout))
	}
	return errors.Join(append(errs, validateAuth("ClientConfig", c.Auth))...)
}

// validateAuth checks the Auth field of the config named cfg, as zkstore
// checks its own.
func validateAuth(cfg string, a *DigestAuth) error {
	if a == nil {
		return nil
	}
	var errs []error
	if a.User == "" {
		errs = append(errs, fmt.Errorf("%w: %s.Auth.User must not be empty", schedule.ErrInvalid, cfg))
	} else if strings.ContainsAny(a.User, ":\n") {
		errs = append(errs, fmt.Errorf("%w: %s.Auth.User (%q) must not contain ':' or a newline", schedule.ErrInvalid, cfg, a.User))
	}
	if a.Password == "" {
		errs = append(errs, fmt.Errorf("%w: %s.Auth.Password must not be empty", schedule.ErrInvalid, cfg))
	}
	return errors.Join(errs...)
}

// Option sets a dependency of a Server.
type Option func(*options)

type options struct {
	clock schedule.Clock
}

// WithClock sets the clock of the server: cluster time (Client.Now), node
// times, and the timers that end Client.Disconnect and expire sessions of
// clients cut off for longer than their timeout. Default
// schedule.SystemClock(); nil keeps the default.
func WithClock(c schedule.Clock) Option {
	return func(o *options) {
		if c != nil {
			o.clock = c
		}
	}
}

// copyAuth returns a copy of a, so that the caller's later changes do not
// reach a server.
func copyAuth(a *DigestAuth) *DigestAuth {
	if a == nil {
		return nil
	}
	cp := *a
	return &cp
}
