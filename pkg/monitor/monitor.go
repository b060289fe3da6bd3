// Package monitor is the small process that owns one running container: it
// creates and starts it through the OCI runtime, holds its stdio, writes its
// log, serves attach clients, records its exit status and OOM kills, runs
// its health checks and applies its restart policy. The CLI starts it
// detached in its own session (`berth monitor ID`) and may then exit.
package monitor
