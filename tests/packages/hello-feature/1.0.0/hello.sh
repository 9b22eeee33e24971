#!/bin/sh
# Greets with the environment's GREETING and the installed config.
echo "hello from 1.0.0: ${GREETING:-nobody} $(cat /var/tmp/steward-e2e/feature/etc/greeting.conf)"
echo "installed" > /var/tmp/steward-e2e/feature/ran
echo "a warning" >&2
