// SPDX-License-Identifier: Apache-2.0

package imagemeta

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
)

func TestKeychain(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, body, registry, wantUser, wantErr string
	}{
		{"auth field", `{"auths":{"registry.example.com":{"auth":"cm9ib3Q6czNjcmV0"}}}`, "registry.example.com", "robot", ""},
		{"username and password, URL key", `{"auths":{"https://registry.example.com/v1/":{"username":"ci","password":"p"}}}`, "registry.example.com", "ci", ""},
		{"Docker Hub's legacy key", `{"auths":{"https://index.docker.io/v1/":{"auth":"aHViOnB3"}}}`, "docker.io", "hub", ""},
		{"a registry the file does not name: anonymous", `{"auths":{"a.example.com":{"auth":"eDp5"}}}`, "b.example.com", "", ""},
		{"bad base64", `{"auths":{"r.example.com":{"auth":"%%%"}}}`, "", "", "auth"},
		{"no colon", `{"auths":{"r.example.com":{"auth":"bm9jb2xvbg=="}}}`, "", "", "not user:password"},
		{"not JSON", `auths: x`, "", "", "invalid character"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "_")+".json")
			if err := os.WriteFile(f, []byte(tt.body), 0o600); err != nil {
				t.Fatal(err)
			}
			k, err := loadKeychain(f)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			reg, _ := name.NewRegistry(tt.registry)
			a, err := k.Resolve(reg)
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := a.Authorization()
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Username != tt.wantUser || tt.wantUser == "" && a != authn.Anonymous {
				t.Fatalf("user %q, want %q", cfg.Username, tt.wantUser)
			}
		})
	}
}

// FuzzDockerConfig: any file content loads or fails with an error.
func FuzzDockerConfig(f *testing.F) {
	f.Add([]byte(`{"auths":{"registry.example.com":{"auth":"cm9ib3Q6czNjcmV0"}}}`))
	f.Add([]byte(`{"auths":{"x":{}}}`))
	f.Add([]byte(`{`))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(dir, "config.json")
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Skip()
		}
		if k, err := loadKeychain(p); err == nil {
			_, _ = k.Resolve(name.MustParseReference("r.example.com/a:b").Context())
		}
	})
}
