#!/bin/sh
echo "hello from 2.0.0"
