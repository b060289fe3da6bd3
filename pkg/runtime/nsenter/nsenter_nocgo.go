//go:build !linux || !cgo

// Package nsenter joins namespaces before the Go runtime starts; this build
// has no cgo, so it cannot, and callers report that clearly.
package nsenter

// Available reports that this build lacks the constructor (built without cgo).
const Available = false
