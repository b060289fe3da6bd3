package registry

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics are the server's Prometheus collectors, in a registry of their own
// so several servers can live in one process (tests).
type metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	bytes    *prometheus.CounterVec
	pushes   prometheus.Counter
	gcRuns   prometheus.Counter
	gcBlobs  prometheus.Counter
	gcBytes  prometheus.Counter
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "berth_registry_http_requests_total",
			Help: "HTTP requests served, by method, route and status code.",
		}, []string{"method", "route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "berth_registry_http_request_duration_seconds",
			Help:    "Time to serve a request, by method and route.",
			Buckets: []float64{.0001, .0005, .001, .005, .01, .05, .1, .5, 1, 5, 30},
		}, []string{"method", "route"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "berth_registry_http_response_bytes_total",
			Help: "Response body bytes sent, by route.",
		}, []string{"route"}),
		pushes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "berth_registry_blobs_pushed_total",
			Help: "Blobs whose upload completed and verified.",
		}),
		gcRuns: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "berth_registry_gc_runs_total",
			Help: "Garbage collection runs completed.",
		}),
		gcBlobs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "berth_registry_gc_removed_blobs_total",
			Help: "Blobs removed by garbage collection.",
		}),
		gcBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "berth_registry_gc_removed_bytes_total",
			Help: "Bytes reclaimed by garbage collection.",
		}),
	}
	m.reg.MustRegister(m.requests, m.duration, m.bytes, m.pushes, m.gcRuns, m.gcBlobs, m.gcBytes,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// methodLabel bounds the method label: a client may send any method name.
func methodLabel(m string) string {
	switch m {
	case "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS":
		return m
	}
	return "other"
}

func (m *metrics) observe(method, route string, status int, bytes int64, d time.Duration) {
	method = methodLabel(method)
	m.requests.WithLabelValues(method, route, strconv.Itoa(status)).Inc()
	m.duration.WithLabelValues(method, route).Observe(d.Seconds())
	if bytes > 0 {
		m.bytes.WithLabelValues(route).Add(float64(bytes))
	}
}

func (m *metrics) blobPushed() { m.pushes.Inc() }
