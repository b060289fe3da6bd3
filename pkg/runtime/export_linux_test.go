package runtime

// InitOf says which init set container id up: "c" or "go" (for tests).
func InitOf(r *Runtime, id string) (string, error) {
	rec, err := r.load(id)
	if err != nil {
		return "", err
	}
	return rec.Init, nil
}
