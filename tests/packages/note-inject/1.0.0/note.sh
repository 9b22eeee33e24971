#!/bin/sh
printf '%s\n' "$NOTE" > /var/tmp/steward-e2e/inject/note.txt
echo "noted"
