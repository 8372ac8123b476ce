# Certificates, keys, tokens and kubeconfigs of the end-to-end cluster
# (sourced by e2e/run.sh). make_pki DIR NODE APISERVER_PORT.
#
# ca            the cluster CA: apiserver serving cert, every client cert
# podtrail-ca   signs podtrail's webhook serving cert (the apiserver trusts it
#               through the webhook kubeconfig); podtrail trusts the cluster CA
#               for the apiserver's client cert (mTLS)
# users         kubernetes-admin (system:masters), alice@example.com (a person,
#               x509, bound to cluster-admin), bob@example.com (x509, no RBAC
#               until the scenario grants it), erin@example.com (x509, group
#               sre, may only impersonate: service account apps/builder and
#               user carol@example.com), dave@example.com (x509, group
#               team-a, edit in team-a), deploy-bot (static token)

make_pki() {
	local dir=$1 node=$2 port=$3
	cd "$dir" || return 1
	set -e
	openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2 -subj "/CN=podtrail-e2e-ca"
	openssl req -x509 -newkey rsa:2048 -nodes -keyout podtrail-ca.key -out podtrail-ca.crt -days 2 -subj "/CN=podtrail-e2e-webhook-ca"
	openssl genrsa -out sa.key 2048
	openssl rsa -in sa.key -pubout -out sa.pub

	# cert NAME SUBJECT [CA] [SAN]
	cert() {
		local name=$1 subj=$2 ca=${3:-ca} san=${4:-}
		openssl req -newkey rsa:2048 -nodes -keyout "$name.key" -out "$name.csr" -subj "$subj"
		if [[ -n $san ]]; then
			printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth,clientAuth\n' "$san" >"$name.ext"
		else
			printf 'extendedKeyUsage=clientAuth\n' >"$name.ext"
		fi
		openssl x509 -req -in "$name.csr" -CA "$ca.crt" -CAkey "$ca.key" -CAcreateserial -days 2 \
			-extfile "$name.ext" -out "$name.crt"
		rm -f "$name.csr" "$name.ext"
	}
	cert apiserver "/CN=kube-apiserver" ca \
		"DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,IP:127.0.0.1,IP:10.96.0.1"
	cert podtrail "/CN=podtrail-gateway" podtrail-ca "DNS:localhost,IP:127.0.0.1"
	cert apiserver-audit "/CN=kube-apiserver-audit"
	cert apiserver-kubelet "/O=system:masters/CN=kube-apiserver-kubelet-client"
	cert admin "/O=system:masters/CN=kubernetes-admin"
	cert controller-manager "/CN=system:kube-controller-manager"
	cert scheduler "/CN=system:kube-scheduler"
	cert kubelet "/O=system:nodes/CN=system:node:$node"
	cert alice "/O=platform-team/CN=alice@example.com"
	cert bob "/O=contractors/CN=bob@example.com"
	cert erin "/O=sre/CN=erin@example.com"
	cert dave "/O=team-a/CN=dave@example.com"

	# static token user: token,user,uid,"group1,group2"
	DEPLOY_BOT_TOKEN=$(openssl rand -hex 16)
	echo "$DEPLOY_BOT_TOKEN,deploy-bot,deploy-bot-uid,\"deployers\"" >tokens.csv
	echo "$DEPLOY_BOT_TOKEN" >deploy-bot.token

	# kubeconfig NAME USER
	kubeconfig() {
		cat >"$1.kubeconfig" <<KC
apiVersion: v1
kind: Config
clusters:
  - name: e2e
    cluster:
      server: https://127.0.0.1:$port
      certificate-authority: $dir/ca.crt
users:
  - name: $1
    user:
      client-certificate: $dir/$2.crt
      client-key: $dir/$2.key
contexts:
  - name: e2e
    context: {cluster: e2e, user: $1}
current-context: e2e
KC
	}
	kubeconfig admin admin
	kubeconfig controller-manager controller-manager
	kubeconfig scheduler scheduler
	kubeconfig kubelet kubelet
	kubeconfig alice alice
	kubeconfig bob bob
	kubeconfig erin erin
	kubeconfig dave dave
	cat >deploy-bot.kubeconfig <<KC
apiVersion: v1
kind: Config
clusters:
  - name: e2e
    cluster:
      server: https://127.0.0.1:$port
      certificate-authority: $dir/ca.crt
users:
  - name: deploy-bot
    user:
      token: $DEPLOY_BOT_TOKEN
contexts:
  - name: e2e
    context: {cluster: e2e, user: deploy-bot}
current-context: e2e
KC
	# the apiserver's audit webhook: podtrail's k8s_audit over mTLS
	cat >audit-webhook.kubeconfig <<KC
apiVersion: v1
kind: Config
clusters:
  - name: podtrail
    cluster:
      server: https://$E2E_WEBHOOK/audit
      certificate-authority: $dir/podtrail-ca.crt
users:
  - name: kube-apiserver
    user:
      client-certificate: $dir/apiserver-audit.crt
      client-key: $dir/apiserver-audit.key
contexts:
  - name: podtrail
    context: {cluster: podtrail, user: kube-apiserver}
current-context: podtrail
KC
	chmod 600 ./*.key ./*.kubeconfig tokens.csv deploy-bot.token
}
