package content

import (
	"testing"
	"time"
)

func TestFlusher(t *testing.T) {
	tests := []struct {
		name   string
		writes []int
		want   bool // a flush must happen
	}{
		{"below the batch", []int{100, 200}, false},
		{"one batch", []int{1000}, true},
		{"batch reached in steps", []int{400, 400, 400}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := StartFlusher(t.TempDir(), 1000)
			if f == nil {
				t.Fatal("StartFlusher returned nil for an existing directory")
			}
			defer f.Stop()
			for _, n := range tt.writes {
				f.Wrote(n)
			}
			if tt.want {
				deadline := time.Now().Add(10 * time.Second)
				for f.flushes.Load() == 0 {
					if time.Now().After(deadline) {
						t.Fatal("no flush after a full batch was written")
					}
					time.Sleep(time.Millisecond)
				}
				return
			}
			f.Stop()
			if n := f.flushes.Load(); n != 0 {
				t.Fatalf("%d flushes before a batch was full", n)
			}
		})
	}
}

func TestFlusherNil(t *testing.T) {
	var f *Flusher
	f.Wrote(1 << 30) // must not panic
	f.Stop()
	if StartFlusher("/nonexistent/dir", 0) != nil {
		t.Fatal("StartFlusher on a missing directory: want nil")
	}
	g := StartFlusher(t.TempDir(), 0)
	g.Stop()
	g.Stop() // twice is fine
}
