package registry_test

import (
	"encoding/pem"
	"encoding/xml"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/berth/berth/internal/testutil"
	"github.com/berth/berth/pkg/registry"
	"github.com/berth/berth/pkg/registry/storage"
)

// conformanceEnv enables every API and data category of the OCI
// distribution-spec conformance suite.
var conformanceEnv = []string{
	"OCI_VERSION=1.1",
	"OCI_TLS=disabled",
	"OCI_REPO1=conformance/repo1",
	"OCI_REPO2=conformance/repo2",
	"OCI_LOG=error",
	"OCI_API_PULL=true",
	"OCI_API_PUSH=true",
	"OCI_API_BLOBS_ATOMIC=true",
	"OCI_API_BLOBS_DELETE=true",
	"OCI_API_BLOBS_DIGEST_HEADER=true",
	"OCI_API_BLOBS_MOUNT_ANONYMOUS=true",
	"OCI_API_BLOBS_UPLOAD_CANCEL=true",
	"OCI_API_MANIFESTS_ATOMIC=true",
	"OCI_API_MANIFESTS_DELETE=true",
	"OCI_API_MANIFESTS_DIGEST_HEADER=true",
	"OCI_API_MANIFESTS_TAG_PARAM=true",
	"OCI_API_TAGS_ATOMIC=true",
	"OCI_API_TAGS_DELETE=true",
	"OCI_API_TAGS_LIST=true",
	"OCI_API_REFERRER=true",
	"OCI_DATA_IMAGE=true",
	"OCI_DATA_INDEX=true",
	"OCI_DATA_INDEX_LIST=true",
	"OCI_DATA_ARTIFACT=true",
	"OCI_DATA_SUBJECT=true",
	"OCI_DATA_SUBJECT_MISSING=true",
	"OCI_DATA_ARTIFACT_LIST=true",
	"OCI_DATA_SUBJECT_LIST=true",
	"OCI_DATA_DATA_FIELD=true",
	"OCI_DATA_NONDISTRIBUTABLE=true",
	"OCI_DATA_CUSTOM_FIELDS=true",
	"OCI_DATA_NO_LAYERS=true",
	"OCI_DATA_EMPTY_BLOB=true",
	"OCI_DATA_SHA512=true",
}

// findConformance locates the suite's binary: on PATH or in GOPATH/bin,
// where scripts/deps.d/go-tools installs it.
func findConformance(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("conformance"); err == nil {
		return p
	}
	gopath := os.Getenv("GOPATH")
	if gopath == "" {
		if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
			gopath = strings.TrimSpace(string(out))
		}
	}
	p := filepath.Join(gopath, "bin", "conformance")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	return testutil.RequireCommand(t, "conformance")
}

type junitCase struct {
	Name    string    `xml:"name,attr"`
	Status  string    `xml:"status,attr"`
	Failure *struct{} `xml:"failure"`
	Error   *struct{} `xml:"error"`
	Skipped *struct{} `xml:"skipped"`
}

type junitSuites struct {
	Suites []struct {
		Cases []junitCase `xml:"testcase"`
	} `xml:"testsuite"`
}

// runConformance runs the suite against addr and returns (total, failed
// names, skipped names).
func runConformance(t *testing.T, bin, addr string, extra ...string) (int, []string, []string) {
	t.Helper()
	results := t.TempDir()
	cmd := exec.Command(bin)
	cmd.Dir = results
	cmd.Env = append(os.Environ(), conformanceEnv...)
	cmd.Env = append(cmd.Env, "OCI_REGISTRY="+addr, "OCI_RESULTS_DIR="+results)
	cmd.Env = append(cmd.Env, extra...)
	out, _ := cmd.CombinedOutput() // exits 1 on failures; junit.xml tells which
	b, err := os.ReadFile(filepath.Join(results, "junit.xml"))
	if err != nil {
		t.Fatalf("conformance wrote no junit.xml: %v\n%s", err, out)
	}
	var js junitSuites
	if err := xml.Unmarshal(b, &js); err != nil {
		t.Fatalf("parsing junit.xml: %v", err)
	}
	total := 0
	var failed, skipped []string
	for _, s := range js.Suites {
		for _, c := range s.Cases {
			total++
			switch {
			case c.Failure != nil || c.Error != nil || c.Status == "failure" || c.Status == "error":
				failed = append(failed, c.Name)
			case c.Skipped != nil || c.Status == "skipped":
				skipped = append(skipped, c.Name)
			case c.Status != "passed":
				failed = append(failed, c.Name+" (status "+c.Status+")")
			}
		}
	}
	if total == 0 {
		t.Fatalf("conformance ran no tests:\n%s", out)
	}
	if len(failed) > 0 {
		t.Logf("conformance output:\n%s", out)
	}
	return total, failed, skipped
}

func TestConformance(t *testing.T) {
	bin := findConformance(t)
	for _, tc := range []struct {
		name    string
		sparse  bool
		tlsAuth bool
	}{
		{"strict", false, false},
		{"sparse", true, false},
		{"tls+auth", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, err := storage.Open(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			opts := registry.Options{Store: st, AllowSparse: tc.sparse}
			var extra []string
			if tc.sparse {
				extra = append(extra, "OCI_DATA_SPARSE=true")
			}
			if tc.tlsAuth {
				hash, err := bcrypt.GenerateFromPassword([]byte("conformance-pw"), bcrypt.MinCost)
				if err != nil {
					t.Fatal(err)
				}
				if opts.Auth, err = registry.LoadHtpasswd(writeTemp(t, "oci:"+string(hash)+"\n")); err != nil {
					t.Fatal(err)
				}
				extra = append(extra, "OCI_TLS=enabled", "OCI_USERNAME=oci", "OCI_PASSWORD=conformance-pw")
			}
			reg, err := registry.New(opts)
			if err != nil {
				t.Fatal(err)
			}
			var srv *httptest.Server
			if tc.tlsAuth {
				srv = httptest.NewTLSServer(reg)
				// The suite verifies certificates (its "insecure" mode does
				// not skip verification), so trust the test server's.
				ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
				extra = append(extra, "SSL_CERT_FILE="+writeTemp(t, string(ca)))
			} else {
				srv = httptest.NewServer(reg)
			}
			defer srv.Close()
			addr := strings.TrimPrefix(strings.TrimPrefix(srv.URL, "http://"), "https://")
			total, failed, skipped := runConformance(t, bin, addr, extra...)
			t.Logf("conformance (%s): %d tests, %d failed, %d skipped", tc.name, total, len(failed), len(skipped))
			for _, s := range skipped {
				t.Errorf("skipped: %s", s)
			}
			for _, f := range failed {
				t.Errorf("failed: %s", f)
			}
		})
	}
}
