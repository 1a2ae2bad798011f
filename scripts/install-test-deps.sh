#!/usr/bin/env bash
# Installs the real clients the end-to-end tests drive (Debian): litmus and curl (WebDAV), OpenSSH sftp and lftp
# with sshpass (SFTP), and fuse3 + libfuse3-dev (the FUSE binding that npm ci builds, and the kernel
# mount tests), libnfs-utils (NFSv3), nfs-ganesha + nfs-ganesha-vfs and python3 (the NFSv4.1 suite's
# reference server and its local-lock helper; the test starts its own ganesha, so the package's
# service is stopped), smbclient and samba-testsuite (SMB2/3), libiscsi-bin and qemu-utils +
# qemu-block-extra (iSCSI: iscsi-ls/-inq/-test-cu and qemu-img's iscsi:// driver). Run as root (or through sudo).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends litmus openssh-client sshpass curl ca-certificates lftp fuse3 libfuse3-dev pkg-config libnfs-utils nfs-ganesha nfs-ganesha-vfs python3 util-linux-extra smbclient samba-testsuite libiscsi-bin qemu-utils qemu-block-extra >/dev/null
systemctl disable --now nfs-ganesha >/dev/null 2>&1 || true
echo "test clients installed: $(command -v litmus) $(command -v sftp) $(command -v sshpass) $(command -v curl) $(command -v lftp) $(command -v smbclient)"
