package registry

import (
	"bufio"
	"fmt"
	"math"
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// metrics are the server's counters and latency histogram, exposed in the
// Prometheus text format (version 0.0.4) on /metrics. They are kept per
// server so several servers can live in one process (tests).
//
// This is a small hand-written exposition rather than client_golang: that
// library (with procfs, expvar, runtime/metrics and protobuf) costs every
// start of the berth program — `berth run` included — a few milliseconds of
// package initialisation, for an endpoint only `berth registry serve` has.
type metrics struct {
	requests *counterVec
	duration *histogramVec
	bytes    *counterVec
	pushes   counter
	gcRuns   counter
	gcBlobs  counter
	gcBytes  counter
}

const (
	requestsName = "berth_registry_http_requests_total"
	durationName = "berth_registry_http_request_duration_seconds"
	bytesName    = "berth_registry_http_response_bytes_total"
)

// durationBuckets are the upper bounds (seconds) of the latency histogram.
var durationBuckets = []float64{.0001, .0005, .001, .005, .01, .05, .1, .5, 1, 5, 30}

func newMetrics() *metrics {
	return &metrics{
		requests: newCounterVec("method", "route", "code"),
		duration: newHistogramVec(durationBuckets, "method", "route"),
		bytes:    newCounterVec("route"),
	}
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
	m.requests.with(method, route, strconv.Itoa(status)).add(1)
	m.duration.with(method, route).observe(d.Seconds())
	if bytes > 0 {
		m.bytes.with(route).add(float64(bytes))
	}
}

func (m *metrics) blobPushed() { m.pushes.add(1) }

// ServeHTTP writes every metric in the Prometheus text format.
func (m *metrics) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	bw := bufio.NewWriter(w)
	m.write(bw)
	_ = bw.Flush()
}

// write emits the families sorted by name, as client_golang does.
func (m *metrics) write(w *bufio.Writer) {
	m.pushes.write(w, "berth_registry_blobs_pushed_total", "Blobs whose upload completed and verified.")
	m.gcBlobs.write(w, "berth_registry_gc_removed_blobs_total", "Blobs removed by garbage collection.")
	m.gcBytes.write(w, "berth_registry_gc_removed_bytes_total", "Bytes reclaimed by garbage collection.")
	m.gcRuns.write(w, "berth_registry_gc_runs_total", "Garbage collection runs completed.")
	m.duration.write(w, durationName, "Time to serve a request, by method and route.")
	m.requests.write(w, requestsName, "HTTP requests served, by method, route and status code.")
	m.bytes.write(w, bytesName, "Response body bytes sent, by route.")
	writeGoMetrics(w)
	writeProcessMetrics(w)
}

// counter is a float64 that only goes up, updated without a lock.
type counter struct{ bits atomic.Uint64 }

func (c *counter) add(v float64) {
	for {
		old := c.bits.Load()
		if c.bits.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+v)) {
			return
		}
	}
}

func (c *counter) value() float64 { return math.Float64frombits(c.bits.Load()) }

func (c *counter) write(w *bufio.Writer, name, help string) {
	writeHeader(w, name, help, "counter")
	writeSample(w, name, nil, nil, "", "", c.value())
}

// counterVec is a family of counters told apart by label values.
type counterVec struct {
	labels []string
	mu     sync.RWMutex
	series map[string]*labelled[*counter]
}

// labelled is one series of a vector: its label values and its value.
type labelled[T any] struct {
	values []string
	v      T
}

func newCounterVec(labels ...string) *counterVec {
	return &counterVec{labels: labels, series: map[string]*labelled[*counter]{}}
}

func (v *counterVec) with(values ...string) *counter {
	return lookup(&v.mu, v.series, values, func() *counter { return &counter{} })
}

func (v *counterVec) write(w *bufio.Writer, name, help string) {
	writeHeader(w, name, help, "counter")
	for _, s := range sorted(&v.mu, v.series) {
		writeSample(w, name, v.labels, s.values, "", "", s.v.value())
	}
}

// histogram counts observations into cumulative buckets.
type histogram struct {
	upper  []float64
	counts []atomic.Uint64 // per bucket (not cumulative), last is +Inf
	count  atomic.Uint64
	sum    counter
}

func (h *histogram) observe(v float64) {
	i, _ := slices.BinarySearch(h.upper, v) // first bound >= v: le is inclusive
	h.counts[i].Add(1)
	h.sum.add(v)
	h.count.Add(1)
}

// histogramVec is a family of histograms told apart by label values.
type histogramVec struct {
	labels []string
	upper  []float64
	mu     sync.RWMutex
	series map[string]*labelled[*histogram]
}

func newHistogramVec(upper []float64, labels ...string) *histogramVec {
	return &histogramVec{labels: labels, upper: upper, series: map[string]*labelled[*histogram]{}}
}

func (v *histogramVec) with(values ...string) *histogram {
	return lookup(&v.mu, v.series, values, func() *histogram {
		return &histogram{upper: v.upper, counts: make([]atomic.Uint64, len(v.upper)+1)}
	})
}

func (v *histogramVec) write(w *bufio.Writer, name, help string) {
	writeHeader(w, name, help, "histogram")
	for _, s := range sorted(&v.mu, v.series) {
		h := s.v
		// Read the total first: the buckets may run ahead of it, never behind.
		count := h.count.Load()
		var cum uint64
		for i, le := range h.upper {
			cum += h.counts[i].Load()
			writeSample(w, name+"_bucket", v.labels, s.values, "le", formatFloat(le), float64(cum))
		}
		cum += h.counts[len(h.upper)].Load()
		writeSample(w, name+"_bucket", v.labels, s.values, "le", "+Inf", float64(max(cum, count)))
		writeSample(w, name+"_sum", v.labels, s.values, "", "", h.sum.value())
		writeSample(w, name+"_count", v.labels, s.values, "", "", float64(max(cum, count)))
	}
}

// lookup finds or adds the series for values.
func lookup[T any](mu *sync.RWMutex, series map[string]*labelled[T], values []string, mk func() T) T {
	key := strings.Join(values, "\xff")
	mu.RLock()
	s, ok := series[key]
	mu.RUnlock()
	if ok {
		return s.v
	}
	mu.Lock()
	defer mu.Unlock()
	if s, ok := series[key]; ok {
		return s.v
	}
	s = &labelled[T]{values: slices.Clone(values), v: mk()}
	series[key] = s
	return s.v
}

// sorted is a snapshot of the series in the order of their label values.
func sorted[T any](mu *sync.RWMutex, series map[string]*labelled[T]) []*labelled[T] {
	mu.RLock()
	keys := make([]string, 0, len(series))
	for k := range series {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make([]*labelled[T], len(keys))
	for i, k := range keys {
		out[i] = series[k]
	}
	mu.RUnlock()
	return out
}

func writeHeader(w *bufio.Writer, name, help, typ string) {
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n", name, escapeHelp(help), name, typ)
}

// writeSample writes one line; labels are written sorted by name (with the
// extra label, such as a histogram's le, among them).
func writeSample(w *bufio.Writer, name string, labels, values []string, extra, extraValue string, v float64) {
	w.WriteString(name)
	if len(labels) > 0 || extra != "" {
		type pair struct{ k, v string }
		pairs := make([]pair, 0, len(labels)+1)
		for i, l := range labels {
			pairs = append(pairs, pair{l, values[i]})
		}
		if extra != "" {
			pairs = append(pairs, pair{extra, extraValue})
		}
		slices.SortFunc(pairs, func(a, b pair) int { return strings.Compare(a.k, b.k) })
		w.WriteByte('{')
		for i, p := range pairs {
			if i > 0 {
				w.WriteByte(',')
			}
			w.WriteString(p.k)
			w.WriteString(`="`)
			w.WriteString(escapeLabel(p.v))
			w.WriteByte('"')
		}
		w.WriteByte('}')
	}
	w.WriteByte(' ')
	w.WriteString(formatFloat(v))
	w.WriteByte('\n')
}

// formatFloat writes a value as the text format wants it.
func formatFloat(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case math.IsNaN(v):
		return "NaN"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

var (
	helpEscaper  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
	labelEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)
)

func escapeHelp(s string) string  { return helpEscaper.Replace(s) }
func escapeLabel(s string) string { return labelEscaper.Replace(s) }

// writeGoMetrics writes the Go runtime's state under client_golang's names.
func writeGoMetrics(w *bufio.Writer) {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	gauge := func(name, help string, v float64) {
		writeHeader(w, name, help, "gauge")
		writeSample(w, name, nil, nil, "", "", v)
	}
	gauge("go_goroutines", "Number of goroutines that currently exist.", float64(runtime.NumGoroutine()))
	writeHeader(w, "go_info", "Information about the Go environment.", "gauge")
	writeSample(w, "go_info", []string{"version"}, []string{runtime.Version()}, "", "", 1)
	gauge("go_memstats_alloc_bytes", "Number of bytes allocated and still in use.", float64(ms.Alloc))
	writeHeader(w, "go_memstats_alloc_bytes_total", "Total number of bytes allocated, even if freed.", "counter")
	writeSample(w, "go_memstats_alloc_bytes_total", nil, nil, "", "", float64(ms.TotalAlloc))
	gauge("go_memstats_heap_inuse_bytes", "Number of heap bytes that are in use.", float64(ms.HeapInuse))
	gauge("go_memstats_heap_objects", "Number of allocated objects.", float64(ms.HeapObjects))
	gauge("go_memstats_sys_bytes", "Number of bytes obtained from system.", float64(ms.Sys))
	writeHeader(w, "go_gc_cycles_total", "Number of completed GC cycles.", "counter")
	writeSample(w, "go_gc_cycles_total", nil, nil, "", "", float64(ms.NumGC))
}
