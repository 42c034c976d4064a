package io.deltasync.examples.inspections;
