#!/bin/bash -e
# Copy the project, build its virtual environment, create the service user, install the units.
: "${SEED_SRC:?set SEED_SRC to the Seed repository in the pi-gen config}"

install -d "${ROOTFS_DIR}/opt/seed" "${ROOTFS_DIR}/etc/seed"
rsync -a --delete --exclude .git --exclude .venv --exclude demo-data "${SEED_SRC}/" "${ROOTFS_DIR}/opt/seed/"
install -m 0644 "${SEED_SRC}/terminal/config.example.toml" "${ROOTFS_DIR}/etc/seed/terminal.toml"
install -m 0644 "${SEED_SRC}/systemd/seed-terminal.service" "${ROOTFS_DIR}/etc/systemd/system/"
install -m 0644 "${SEED_SRC}/systemd/seed-sync.service" "${ROOTFS_DIR}/etc/systemd/system/"
install -m 0644 files/seed-firstboot.service "${ROOTFS_DIR}/etc/systemd/system/"

on_chroot <<'CHROOT'
set -e
getent group gpio >/dev/null || groupadd --system gpio
id seed >/dev/null 2>&1 || useradd --system --home-dir /var/lib/seed --shell /usr/sbin/nologin \
	--groups video,render,input,gpio,dialout,audio seed
install -d -o seed -g seed -m 0700 /var/lib/seed
# system site packages: picamera2 and libcamera come from Raspberry Pi OS, not PyPI
python3 -m venv --system-site-packages /opt/seed/.venv
/opt/seed/.venv/bin/pip install --no-cache-dir -r /opt/seed/requirements.txt
/opt/seed/.venv/bin/pip install --no-cache-dir lgpio
/opt/seed/.venv/bin/pip install --no-cache-dir --no-deps -e /opt/seed
systemctl enable seed-firstboot.service seed-terminal.service seed-sync.service
systemctl disable mosquitto.service 2>/dev/null || true
CHROOT
