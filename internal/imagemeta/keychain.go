// SPDX-License-Identifier: Apache-2.0

package imagemeta

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
)

// dockerConfig is the part of a docker config.json (and of a Kubernetes
// pull secret's .dockerconfigjson) that holds registry credentials.
type dockerConfig struct {
	Auths map[string]dockerAuth `json:"auths"`
}

type dockerAuth struct {
	Auth          string `json:"auth"`
	Username      string `json:"username"`
	Password      string `json:"password"`
	IdentityToken string `json:"identitytoken"`
	RegistryToken string `json:"registrytoken"`
}

// keychain resolves credentials from a docker config file's auths; a
// registry it does not name is anonymous. Credential helpers are not run.
type keychain struct {
	auths map[string]authn.AuthConfig // by registry host
}

// loadKeychain reads the docker config file; "" is anonymous.
func loadKeychain(file string) (*keychain, error) {
	k := &keychain{auths: map[string]authn.AuthConfig{}}
	if file == "" {
		return k, nil
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var cfg dockerConfig
	if err := json.Unmarshal(data, &cfg); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	for host, a := range cfg.Auths {
		ac := authn.AuthConfig{Username: a.Username, Password: a.Password, IdentityToken: a.IdentityToken, RegistryToken: a.RegistryToken}
		if a.Auth != "" {
			raw, err := base64.StdEncoding.DecodeString(a.Auth)
			if err != nil {
				return nil, fmt.Errorf("%s: auths[%q].auth: %w", file, host, err)
			}
			u, p, ok := strings.Cut(string(raw), ":")
			if !ok {
				return nil, fmt.Errorf("%s: auths[%q].auth: not user:password", file, host)
			}
			ac.Username, ac.Password = u, p
		}
		k.auths[registryKey(host)] = ac
	}
	return k, nil
}

// registryKey is a config's auths key as a registry host: a URL's scheme
// and path dropped; Docker Hub's names are one.
func registryKey(s string) string {
	s = strings.TrimPrefix(strings.TrimPrefix(s, "https://"), "http://")
	s, _, _ = strings.Cut(s, "/")
	switch s {
	case "docker.io", "index.docker.io", "registry-1.docker.io":
		return "index.docker.io"
	}
	return strings.ToLower(s)
}

func (k *keychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	if ac, ok := k.auths[registryKey(r.RegistryStr())]; ok {
		return authn.FromConfig(ac), nil
	}
	return authn.Anonymous, nil
}
