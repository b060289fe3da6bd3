package image

import (
	"errors"
	"net/http"
	"testing"

	"github.com/berth/berth/pkg/errdefs"
)

type okTransport struct{ calls int }

func (o *okTransport) RoundTrip(*http.Request) (*http.Response, error) {
	o.calls++
	return &http.Response{StatusCode: 200, Body: http.NoBody}, nil
}

func TestRegistryTransport(t *testing.T) {
	t.Setenv(InsecureRegistriesEnv, "myreg.lan:5000, 10.9.9.9")
	inner := &okTransport{}
	rt := RegistryTransport(inner)
	for _, tc := range []struct {
		url string
		ok  bool
	}{
		{"https://10.0.0.1:5000/v2/", true},
		{"http://127.0.0.1:5000/v2/", true},
		{"http://localhost:5000/v2/", true},
		{"http://[::1]:5000/v2/", true},
		{"http://10.0.0.1:5000/v2/", false},
		{"http://192.168.1.10/v2/", false},
		{"http://registry.example.com/v2/", false},
		{"http://myreg.lan:5000/v2/", true},
		{"http://10.9.9.9:5000/v2/", true},
	} {
		req, _ := http.NewRequest(http.MethodGet, tc.url, nil)
		before := inner.calls
		_, err := rt.RoundTrip(req)
		if tc.ok && (err != nil || inner.calls != before+1) {
			t.Errorf("%s: %v, want it sent", tc.url, err)
		}
		if !tc.ok && (!errors.Is(err, errdefs.ErrUnavailable) || inner.calls != before) {
			t.Errorf("%s: %v, want it refused", tc.url, err)
		}
	}
}
