# Writes node-a.log and node-b.log: the containerd and kubelet lines (journald
# forwarded to syslog, as on the AKS nodes of ../../../../shared/samples) of the
# pods that demo/audit.log creates, in containerd 1.7 CRI plugin wording, plus
# a pod sandbox started with crictl on node-b that the API never saw.
# Also writes crio/node-b.log: node-b as a CRI-O 1.33 node (the same pods, the
# same kubelet lines, CRI-O's wording of the same steps, journald short-precise
# stamps as on the OpenShift nodes of the samples), for the correlation tests.
import hashlib, datetime as dt
def h(s): return hashlib.sha256(s.encode()).hexdigest()
def ts(t): return t.strftime('%Y-%m-%dT%H:%M:%S.')+'%09d'%(t.microsecond*1000+int(h(str(t))[:3],16)%1000)+'Z'
def sys(t,node,proc,pid): return t.strftime('%b %d %H:%M:%S')+f' {node} {proc}[{pid}]: '
def P(s): return dt.datetime.strptime(s,'%Y-%m-%dT%H:%M:%S.%fZ')
CPID={'node-a':812,'node-b':791}; KPID={'node-a':1187,'node-b':1203}
lines={'node-a':[], 'node-b':[]}
crio=[]  # node-b as a CRI-O node
def ctd(node,t,msg,level='info'):
    lines[node].append((t, sys(t,node,'containerd',CPID[node])+f'time="{ts(t)}" level={level} msg="{msg}"'))
def kub(node,t,src,msg,level='I'):
    line=sys(t,node,'kubelet',KPID[node])+f'{level}{t.strftime("%m%d %H:%M:%S.%f")}    {KPID[node]} {src}] {msg}'
    lines[node].append((t, line))
    if node=='node-b': crio.append((t, line))
def cri(node,t,msg,req,method,extra='',tail=''):
    # CRI-O: journald short-precise stamp, space-separated RFC 3339 time, request id and CRI method.
    if node!='node-b': return
    stamp=t.strftime('%b %d %H:%M:%S.%f')+f' {node} crio[1042]: '
    when=t.strftime('%Y-%m-%d %H:%M:%S.')+'%09d'%(t.microsecond*1000+int(h(str(t)+msg)[:3],16)%1000)+'Z'
    crio.append((t, stamp+f'time="{when}" level=info msg="{msg}"{extra} id={req} name=/runtime.v1.{method}{tail}'))
def rid(*a): u=h('req'+'/'.join(a)); return f'{u[:8]}-{u[8:12]}-4{u[13:16]}-a{u[17:20]}-{u[20:32]}'
q='\\"'
present=set()
def pod(ns,name,uid,node,bind,containers,digests,stop_after=None):
    t=P(bind)+dt.timedelta(milliseconds=14)
    kub(node,t,'kubelet.go:2593',f'"SyncLoop ADD" source="api" pods=["{ns}/{name}"]')
    t+=dt.timedelta(milliseconds=120)
    kub(node,t,'kuberuntime_manager.go:1094',f'"No sandbox for pod can be found. Need to start a new one" pod="{ns}/{name}"')
    t+=dt.timedelta(milliseconds=3)
    meta=f'&PodSandboxMetadata{{Name:{name},Uid:{uid},Namespace:{ns},Attempt:0,}}'
    ctd(node,t,f'RunPodSandbox for {meta}')
    r=rid(uid,'sandbox')
    cri(node,t,f'Running pod sandbox: {ns}/{name}/POD',r,'RuntimeService/RunPodSandbox')
    sid=h('sandbox'+uid)
    t+=dt.timedelta(milliseconds=412)
    ctd(node,t,f'RunPodSandbox for {meta} returns sandbox id {q}{sid}{q}')
    cri(node,t,f'Ran pod sandbox {sid} with infra container: {ns}/{name}/POD',r,'RuntimeService/RunPodSandbox')
    if stop_after is not None:
        t+=dt.timedelta(milliseconds=stop_after)
        ctd(node,t,f'StopPodSandbox for {q}{sid}{q}')
        t+=dt.timedelta(milliseconds=180)
        ctd(node,t,f'TearDown network for sandbox {q}{sid}{q} successfully')
        ctd(node,t+dt.timedelta(milliseconds=9),f'StopPodSandbox for {q}{sid}{q} returns successfully')
        return
    for (cname,image) in containers:
        if '@sha256:' not in image and (node,image) not in present:
            t+=dt.timedelta(milliseconds=6)
            ctd(node,t,f'PullImage {q}{image}{q}')
            r=rid(uid,image)
            cri(node,t-dt.timedelta(milliseconds=2),f'Checking image status: {image}',rid(uid,image,'status'),'ImageService/ImageStatus')
            cri(node,t-dt.timedelta(milliseconds=1),f'Image {image} not found',rid(uid,image,'status'),'ImageService/ImageStatus')
            cri(node,t,f'Pulling image: {image}',r,'ImageService/PullImage')
            t+=dt.timedelta(milliseconds=1830)
            iid='sha256:'+h('config'+image)
            full=image if '.' in image.split('/')[0] and '/' in image else 'docker.io/'+('library/'+image if '/' not in image else image)
            if full.startswith('docker.io/') and full.count('/')==1: full='docker.io/library/'+full[10:]
            repo=full.rsplit(':',1)[0]
            rd=digests[image]
            ctd(node,t,f'ImageCreate event name:{q}{repo}@{rd}{q} labels:{{key:{q}io.cri-containerd.image{q} value:{q}managed{q}}}')
            ctd(node,t+dt.timedelta(microseconds=900),f'Pulled image {q}{image}{q} with image id {q}{iid}{q}, repo tag {q}{full}{q}, repo digest {q}{repo}@{rd}{q}, size {q}{int(h(image)[:6],16)*7}{q} in 1.826361043s')
            ctd(node,t+dt.timedelta(microseconds=940),f'PullImage {q}{image}{q} returns image reference {q}{iid}{q}')
            cri(node,t,f'Pulled image: {repo}@{rd}',r,'ImageService/PullImage')
            present.add((node,image))
        t+=dt.timedelta(milliseconds=9)
        ctd(node,t,f'CreateContainer within sandbox {q}{sid}{q} for container &ContainerMetadata{{Name:{cname},Attempt:0,}}')
        r=rid(uid,cname,'create')
        cri(node,t,f'Creating container: {ns}/{name}/{cname}',r,'RuntimeService/CreateContainer')
        cid=h('ctr'+uid+cname)
        t+=dt.timedelta(milliseconds=37)
        ctd(node,t,f'CreateContainer within sandbox {q}{sid}{q} for &ContainerMetadata{{Name:{cname},Attempt:0,}} returns container id {q}{cid}{q}')
        cri(node,t,f'Created container {cid}: {ns}/{name}/{cname}',r,'RuntimeService/CreateContainer')
        t+=dt.timedelta(milliseconds=2)
        ctd(node,t,f'StartContainer for {q}{cid}{q}')
        r=rid(uid,cname,'start')
        cri(node,t,f'Starting container: {cid}',r,'RuntimeService/StartContainer')
        t+=dt.timedelta(milliseconds=96)
        ctd(node,t,f'StartContainer for {q}{cid}{q} returns successfully')
        cri(node,t,'Started container',r,'RuntimeService/StartContainer',extra=f' PID={10000+int(h(cid)[:4],16)%50000} containerID={cid} description={ns}/{name}/{cname}',
            tail=f' sandboxID={sid}')
D={'registry.k8s.io/kube-proxy:v1.33.13':'sha256:'+h('kp'),
   'registry.k8s.io/coredns/coredns:v1.12.0':'sha256:'+h('cd'),
   'docker.io/alpine:3.20':'sha256:'+h('alpine'),
   'ghcr.io/acme/frontend:2.3.1':'sha256:'+h('fe'),
   'ghcr.io/acme/report:1.0.0':'sha256:'+h('rep'),
   'nginx:1.27':'sha256:'+h('nginx'),
   'quay.io/prometheus/node-exporter:v1.8.2':'sha256:'+h('ne'),
   'ghcr.io/acme-corp/cart:1.2.0':'sha256:'+h('cart'),
   'registry.k8s.io/pause:3.10':'sha256:'+h('pause')}
pod('kube-system','kube-proxy-7mzqv','6887c1a1-e311-4669-9949-acd753cd17b7','node-b','2026-11-20T09:14:03.377705Z',[('kube-proxy','registry.k8s.io/kube-proxy:v1.33.13')],D)
pod('kube-system','coredns-668d6bf9bc-2xkfw','a2e08f8b-011f-4ae7-8719-99a15a5e2287','node-b','2026-11-20T09:14:08.634030Z',[('coredns','registry.k8s.io/coredns/coredns:v1.12.0')],D)
pod('kube-system','kube-proxy-x7b2q','1fd08881-4702-4e21-947b-fdd55ce7bb17','node-a','2026-11-20T09:14:21.156831Z',[('kube-proxy-x7b2q','docker.io/alpine:3.20')],D)
pod('shop','payments-5d8f7c9b6d-q9wzt','88653e15-705e-4e56-8616-b9101c84a6a7','node-b','2026-11-20T09:14:41.398611Z',[('payments','ghcr.io/acme/payments@sha256:dbeb97c24f107f57a887833791df5761c5c671279fcffcfa4d562189f90edc6a')],D)
pod('web','frontend-7c9d8f6b5-lz8kp','f8f2be3a-1145-4030-ab04-8ba9153cb6da','node-a','2026-11-20T09:14:49.386152Z',[('frontend','ghcr.io/acme/frontend:2.3.1')],D)
pod('batch','report-nightly-29919435-8dk2x','9141eb97-6cda-4197-a48b-b9e0195a01cd','node-b','2026-11-20T09:15:00.059007Z',[('report','ghcr.io/acme/report:1.0.0')],D)
pod('default','tf-smoke','d4c08ba3-c8bd-43e6-b56d-53765b7cb525','node-a','2026-11-20T09:15:18.445816Z',[('nginx','nginx:1.27')],D)
pod('monitoring','node-exporter-debug','23cbbe30-4c93-4d51-8ba7-b8e0b426389d','node-b','2026-11-20T09:15:37.369125Z',[('node-exporter','quay.io/prometheus/node-exporter:v1.8.2')],D)
pod('kube-system','kube-proxy-4wz9n','068a3e05-e0b2-44e6-b455-68c9a413384c','node-a','2026-11-20T09:15:58.242788Z',[('kube-proxy','docker.io/kube-proxy-mirror/kube-proxy:v1.33.13')],D,stop_after=40)
pod('shop','cart-6f7d9c8b4-ttp4z','fd888922-5539-4902-a2ec-ef227272dae7','node-b','2026-11-20T09:16:24.297804Z',[('cart','ghcr.io/acme-corp/cart:1.2.0')],D)
# A pod sandbox started on node-b with crictl, the API server never asked for it.
t=P('2026-11-20T09:16:40.118204Z')
uid='5b0f3c9e-1d7a-4c55-9a0e-2f6d8c41e7b3'
meta=f'&PodSandboxMetadata{{Name:kube-proxy-debug,Uid:{uid},Namespace:kube-system,Attempt:1,}}'
ctd('node-b',t,f'RunPodSandbox for {meta}')
sid=h('sandbox'+uid); cid=h('ctr'+uid)
r=rid(uid,'sandbox')
cri('node-b',t,'Running pod sandbox: kube-system/kube-proxy-debug/POD',r,'RuntimeService/RunPodSandbox')
cri('node-b',t+dt.timedelta(milliseconds=388),f'Ran pod sandbox {sid} with infra container: kube-system/kube-proxy-debug/POD',r,'RuntimeService/RunPodSandbox')
r=rid(uid,'shell','create')
cri('node-b',t+dt.timedelta(milliseconds=1402),'Creating container: kube-system/kube-proxy-debug/shell',r,'RuntimeService/CreateContainer')
cri('node-b',t+dt.timedelta(milliseconds=1441),f'Created container {cid}: kube-system/kube-proxy-debug/shell',r,'RuntimeService/CreateContainer')
r=rid(uid,'shell','start')
cri('node-b',t+dt.timedelta(milliseconds=1443),f'Starting container: {cid}',r,'RuntimeService/StartContainer')
cri('node-b',t+dt.timedelta(milliseconds=1530),'Started container',r,'RuntimeService/StartContainer',extra=f' PID=48213 containerID={cid} description=kube-system/kube-proxy-debug/shell',tail=f' sandboxID={sid}')
ctd('node-b',t+dt.timedelta(milliseconds=388),f'RunPodSandbox for {meta} returns sandbox id {q}{sid}{q}')
ctd('node-b',t+dt.timedelta(milliseconds=1402),f'CreateContainer within sandbox {q}{sid}{q} for container &ContainerMetadata{{Name:shell,Attempt:0,}}')
ctd('node-b',t+dt.timedelta(milliseconds=1441),f'CreateContainer within sandbox {q}{sid}{q} for &ContainerMetadata{{Name:shell,Attempt:0,}} returns container id {q}{cid}{q}')
ctd('node-b',t+dt.timedelta(milliseconds=1443),f'StartContainer for {q}{cid}{q}')
ctd('node-b',t+dt.timedelta(milliseconds=1530),f'StartContainer for {q}{cid}{q} returns successfully')
import os
here=os.path.dirname(os.path.abspath(__file__))
for n,ls in lines.items():
    ls.sort(key=lambda x:x[0])
    with open(os.path.join(here, f'{n}.log'),'w') as f:
        for _,l in ls: f.write(l+'\n')
    print(n,len(ls))
crio.sort(key=lambda x:x[0])
os.makedirs(os.path.join(here,'crio'),exist_ok=True)
with open(os.path.join(here,'crio','node-b.log'),'w') as f:
    for _,l in crio: f.write(l+'\n')
print('crio/node-b',len(crio))
