package image

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/opencontainers/go-digest"

	"github.com/berth/berth/pkg/snapshot"
)

// refsFile is refs.json: canonical reference -> image ID.
type refsFile struct {
	Refs map[string]digest.Digest `json:"refs"`
}

func (s *Store) readRefs() (map[string]digest.Digest, error) {
	b, err := os.ReadFile(s.path("refs.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]digest.Digest{}, nil
	} else if err != nil {
		return nil, err
	}
	var f refsFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("reading image names: %w", err)
	}
	if f.Refs == nil {
		f.Refs = map[string]digest.Digest{}
	}
	return f.Refs, nil
}

// updateRefs changes refs.json under an exclusive lock, atomically.
func (s *Store) updateRefs(fn func(map[string]digest.Digest) error) error {
	unlock, err := lockFile(s.path("refs.lock"), true, true)
	if err != nil {
		return err
	}
	defer unlock()
	refs, err := s.readRefs()
	if err != nil {
		return err
	}
	if err := fn(refs); err != nil {
		return err
	}
	b, err := json.MarshalIndent(refsFile{Refs: refs}, "", "\t")
	if err != nil {
		return err
	}
	return snapshot.WriteFileAtomic(s.path("refs.json"), b, 0o600)
}
