// Package errdefs defines the error kinds that callers branch on, and the
// exit codes the CLI derives from them.
//
// Wrap a sentinel with context (fmt.Errorf("image %q: %w", ref, errdefs.ErrNotFound))
// and test with errors.Is; never match error strings.
package errdefs

import "errors"

// Sentinel errors. Each names a class of failure, not a particular one.
var (
	// ErrNotFound: the named object (image, container, volume, blob...) does not exist.
	ErrNotFound = errors.New("not found")
	// ErrAlreadyExists: an object with that name or digest is already there.
	ErrAlreadyExists = errors.New("already exists")
	// ErrInvalidArgument: the caller's input is malformed or out of range.
	ErrInvalidArgument = errors.New("invalid argument")
	// ErrConflict: the request conflicts with the object's current state
	// (removing a running container, an image in use).
	ErrConflict = errors.New("conflict")
	// ErrUnavailable: a dependency (registry, kernel feature, host resource) cannot be reached or used.
	ErrUnavailable = errors.New("unavailable")
	// ErrNotImplemented: the request is valid but this build or host cannot do it.
	ErrNotImplemented = errors.New("not implemented")
)

// ExitCoder is implemented by errors that carry the process exit code the
// CLI must return, such as a container's own exit status.
type ExitCoder interface {
	ExitCode() int
}

// ExitError is an error that ends the CLI with a given code. With a nil Err
// nothing is printed: the code alone is the answer (berth run's container status).
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return ""
	}
	return e.Err.Error()
}

// ExitCode returns the code the process should exit with.
func (e *ExitError) ExitCode() int { return e.Code }

// Unwrap returns the underlying error, if any.
func (e *ExitError) Unwrap() error { return e.Err }

// ExitCode maps err to a process exit code: the code an ExitCoder in the
// chain asks for, otherwise 1. A nil error is 0.
func ExitCode(err error) int {
	if err == nil {
		return 0
	}
	var ec ExitCoder
	if errors.As(err, &ec) {
		return ec.ExitCode()
	}
	return 1
}
