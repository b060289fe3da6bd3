package registry

import (
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestMetricsExposition(t *testing.T) {
	m := newMetrics()
	m.observe("GET", "manifest", 200, 512, 300*time.Microsecond)
	m.observe("GET", "manifest", 200, 0, 2*time.Second)
	m.observe("BREW", `odd"route`, 418, 0, time.Millisecond)
	m.blobPushed()
	m.gcRuns.add(1)
	m.gcBlobs.add(3)
	m.gcBytes.add(4096)

	rec := httptest.NewRecorder()
	m.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("content type %q", ct)
	}
	out := rec.Body.String()
	for _, want := range []string{
		"# TYPE berth_registry_http_requests_total counter\n",
		`berth_registry_http_requests_total{code="200",method="GET",route="manifest"} 2` + "\n",
		`berth_registry_http_requests_total{code="418",method="other",route="odd\"route"} 1` + "\n",
		"# TYPE berth_registry_http_request_duration_seconds histogram\n",
		`berth_registry_http_request_duration_seconds_bucket{le="0.0001",method="GET",route="manifest"} 0` + "\n",
		`berth_registry_http_request_duration_seconds_bucket{le="0.0005",method="GET",route="manifest"} 1` + "\n",
		`berth_registry_http_request_duration_seconds_bucket{le="1",method="GET",route="manifest"} 1` + "\n",
		`berth_registry_http_request_duration_seconds_bucket{le="5",method="GET",route="manifest"} 2` + "\n",
		`berth_registry_http_request_duration_seconds_bucket{le="+Inf",method="GET",route="manifest"} 2` + "\n",
		`berth_registry_http_request_duration_seconds_sum{method="GET",route="manifest"} 2.0003` + "\n",
		`berth_registry_http_request_duration_seconds_count{method="GET",route="manifest"} 2` + "\n",
		`berth_registry_http_response_bytes_total{route="manifest"} 512` + "\n",
		"berth_registry_blobs_pushed_total 1\n",
		"berth_registry_gc_runs_total 1\n",
		"berth_registry_gc_removed_blobs_total 3\n",
		"berth_registry_gc_removed_bytes_total 4096\n",
		"# TYPE go_goroutines gauge\n",
		"# TYPE process_cpu_seconds_total counter\n",
		"# TYPE process_resident_memory_bytes gauge\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("exposition lacks %q:\n%s", want, out)
		}
	}
	// Every line is a comment or "name{labels} value" with a number.
	sample := regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})? (\+Inf|-Inf|NaN|-?[0-9.e+-]+)$`)
	for line := range strings.SplitSeq(strings.TrimSuffix(out, "\n"), "\n") {
		if !strings.HasPrefix(line, "# ") && !sample.MatchString(line) {
			t.Errorf("malformed line %q", line)
		}
	}
	if m := regexp.MustCompile(`(?m)^process_start_time_seconds ([0-9.e+]+)$`).FindStringSubmatch(out); m == nil || m[1] == "0" {
		t.Errorf("no process start time: %v", m)
	}
}

func TestMetricsConcurrent(t *testing.T) {
	m := newMetrics()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 1000 {
				m.observe("PUT", "blob", 201, 10, time.Millisecond)
			}
		})
	}
	wg.Wait()
	rec := httptest.NewRecorder()
	m.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	for _, want := range []string{
		`berth_registry_http_requests_total{code="201",method="PUT",route="blob"} 8000`,
		`berth_registry_http_response_bytes_total{route="blob"} 80000`,
		`berth_registry_http_request_duration_seconds_count{method="PUT",route="blob"} 8000`,
	} {
		if !strings.Contains(rec.Body.String(), want) {
			t.Errorf("lacks %q", want)
		}
	}
}
