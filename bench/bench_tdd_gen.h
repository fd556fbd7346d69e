/*
 * bench_tdd_gen.h: generated Thing Descriptions for bench_tdd (issue 17
 * §4), our own templates with the shape of the TDD workload generator's
 * mix (vaimee/tdd-workload-generator, protocols/wot.md §3): 80 % simple
 * (2-4 properties), 15 % medium (5-15 properties, actions, events), 5 %
 * complex (many properties, actions and events, nested schemas). The
 * members the anchor queries look for are as selective as there: a
 * lighting Thing (properties lightColor and brightness) is one of 60
 * medium variants and one of 4 complex ones (1.5 % of TDs); a daylight
 * sensor (properties.sensorInformation with a nested "state") is one of
 * 40 simple variants and one of 60 medium ones (2.25 %). Every TD is
 * valid TD 1.1 (kdc_tdcheck). Deterministic: TD i is the same text in
 * every run.
 */
#ifndef BENCH_TDD_GEN_H
#define BENCH_TDD_GEN_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct gbuf {
	char	*p;
	size_t	 n, cap;
};

static void
gput(struct gbuf *b, const char *fmt, ...)
{
	va_list ap;
	int k;

	for (;;) {
		va_start(ap, fmt);
		k = vsnprintf(b->p + b->n, b->cap - b->n, fmt, ap);
		va_end(ap);
		if (k >= 0 && (size_t)k < b->cap - b->n)
			break;
		b->cap = b->cap == 0 ? 4096 : b->cap * 2;
		if ((b->p = realloc(b->p, b->cap)) == NULL)
			abort();
		if (b->n == 0)
			b->p[0] = '\0';
	}
	b->n += (size_t)k;
}

static uint64_t
gen_mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static const char *const gen_pool[] = {
	"temperature", "humidity", "pressure", "status", "on", "level",
	"battery", "co2", "motion", "illuminance", "voltage", "current",
	"power", "energy", "open", "locked", "alarm", "speed", "position",
	"rssi", "mode", "setpoint", "flow", "noise", "vibration", "uptime",
};
#define GEN_POOL (sizeof(gen_pool) / sizeof(gen_pool[0]))

/* a property with forms; nested: an object schema two levels deep */
static void
gen_prop(struct gbuf *b, const char *name, uint64_t i, int k, int nested)
{
	static const char *const types[] = { "number", "integer", "boolean",
	    "string" };
	const char *ty = types[(unsigned)(i + (uint64_t)k) % 4];

	if (nested)
		gput(b, "\"%s\":{\"title\":\"%s %d\",\"type\":\"object\","
		    "\"properties\":{\"value\":{\"type\":\"%s\"},\"meta\":"
		    "{\"type\":\"object\",\"properties\":{\"unit\":{\"type\":"
		    "\"string\"},\"quality\":{\"type\":\"integer\",\"minimum\":"
		    "0,\"maximum\":100}}}},\"readOnly\":true,\"observable\":"
		    "true,\"forms\":[{\"href\":\"properties/%s\",\"op\":"
		    "[\"readproperty\",\"observeproperty\"],\"contentType\":"
		    "\"application/json\"}]}", name, name, k, ty, name);
	else
		gput(b, "\"%s\":{\"title\":\"%s\",\"type\":\"%s\",\"readOnly\":"
		    "%s,\"forms\":[{\"href\":\"properties/%s\"}]}", name, name,
		    ty, k % 2 ? "true" : "false", name);
}

static void
gen_head(struct gbuf *b, uint64_t i, const char *title, const char *desc)
{
	gput(b, "{\"@context\":\"https://www.w3.org/2022/wot/td/v1.1\","
	    "\"id\":\"urn:bench:td:%07llu\",\"@type\":\"Thing\",\"title\":"
	    "\"%s %llu\",\"description\":\"%s\",\"base\":\"https://thing-%llu."
	    "bench.example/\",\"securityDefinitions\":{\"basic_sc\":{\"scheme\":"
	    "\"basic\",\"in\":\"header\"}},\"security\":\"basic_sc\"",
	    (unsigned long long)i, title, (unsigned long long)i, desc,
	    (unsigned long long)i);
}

/* properties.sensorInformation with nested state and config */
static void
gen_sensorinfo(struct gbuf *b)
{
	gput(b, "\"sensorInformation\":{\"title\":\"Sensor Information\","
	    "\"description\":\"State, config and other metadata about the "
	    "sensor\",\"type\":\"object\",\"readOnly\":true,\"properties\":{"
	    "\"state\":{\"type\":\"object\",\"properties\":{\"daylight\":{"
	    "\"type\":\"boolean\"},\"lastupdated\":{\"type\":\"string\","
	    "\"format\":\"date-time\"}}},\"config\":{\"type\":\"object\","
	    "\"properties\":{\"on\":{\"type\":\"boolean\"},\"reachable\":{"
	    "\"type\":\"boolean\"},\"battery\":{\"type\":\"integer\"}}},"
	    "\"name\":{\"type\":\"string\"}},\"forms\":[{\"href\":"
	    "\"properties/sensor\"}]}");
}

/* properties lightColor (an RGB object) and brightness */
static void
gen_light(struct gbuf *b)
{
	gput(b, "\"lightColor\":{\"title\":\"Light color\",\"type\":\"object\","
	    "\"properties\":{\"r\":{\"type\":\"integer\",\"minimum\":0,"
	    "\"maximum\":255},\"g\":{\"type\":\"integer\",\"minimum\":0,"
	    "\"maximum\":255},\"b\":{\"type\":\"integer\",\"minimum\":0,"
	    "\"maximum\":255}},\"observable\":true,\"forms\":[{\"href\":"
	    "\"properties/lightColor\"}]},\"brightness\":{\"title\":"
	    "\"Brightness\",\"type\":\"integer\",\"minimum\":0,\"maximum\":100,"
	    "\"unit\":\"percent\",\"forms\":[{\"href\":\"properties/"
	    "brightness\"}]}");
}

static void
gen_actions(struct gbuf *b, int n, int nested)
{
	gput(b, ",\"actions\":{");
	for (int a = 0; a < n; a++) {
		if (nested)
			gput(b, "%s\"action%d\":{\"title\":\"Action %d\","
			    "\"input\":{\"type\":\"object\",\"properties\":{"
			    "\"target\":{\"type\":\"integer\",\"minimum\":0},"
			    "\"options\":{\"type\":\"object\",\"properties\":{"
			    "\"ms\":{\"type\":\"integer\"},\"force\":{\"type\":"
			    "\"boolean\"}}}},\"required\":[\"target\"]},"
			    "\"output\":{\"type\":\"string\"},\"forms\":[{"
			    "\"href\":\"actions/a%d\",\"htv:methodName\":"
			    "\"POST\"}]}", a ? "," : "", a, a, a);
		else
			gput(b, "%s\"action%d\":{\"title\":\"Action %d\","
			    "\"forms\":[{\"href\":\"actions/a%d\"}]}",
			    a ? "," : "", a, a, a);
	}
	gput(b, "}");
}

static void
gen_events(struct gbuf *b, int n)
{
	gput(b, ",\"events\":{");
	for (int e = 0; e < n; e++)
		gput(b, "%s\"event%d\":{\"title\":\"Event %d\",\"data\":{"
		    "\"type\":\"object\",\"properties\":{\"code\":{\"type\":"
		    "\"integer\"},\"text\":{\"type\":\"string\"}}},\"forms\":[{"
		    "\"href\":\"events/e%d\",\"subprotocol\":\"longpoll\"}]}",
		    e ? "," : "", e, e, e);
	gput(b, "}");
}

/* n properties from the pool (distinct, starting at a random place) */
static void
gen_pool_props(struct gbuf *b, uint64_t i, uint64_t h, int n, int nested,
    int first)
{
	char name[48];

	for (int k = 0; k < n; k++) {
		const char *base = gen_pool[(h + (uint64_t)k) % GEN_POOL];

		if ((size_t)k < GEN_POOL)
			snprintf(name, sizeof(name), "%s", base);
		else
			snprintf(name, sizeof(name), "%s%d", base,
			    k / (int)GEN_POOL);
		if (!first || k > 0)
			gput(b, ",");
		gen_prop(b, name, i, k, nested && k % 3 == 0);
	}
}

/* TD i's text into b (b->n reset). kind: 0 simple, 1 medium, 2 complex */
static int
gen_td(struct gbuf *b, uint64_t i)
{
	uint64_t h = gen_mix(i), h2 = gen_mix(h);
	unsigned pick = (unsigned)(h % 100);
	int kind = pick < 80 ? 0 : pick < 95 ? 1 : 2;

	b->n = 0;
	if (kind == 0) {
		unsigned v = (unsigned)(h2 % 40);

		gen_head(b, i, v == 0 ? "Daylight sensor" : "Sensor",
		    "A small device on the building network");
		gput(b, ",\"properties\":{");
		if (v == 0) {
			gen_sensorinfo(b);
			gen_pool_props(b, i, h2 >> 8, 1, 0, 0);
		} else
			gen_pool_props(b, i, h2 >> 8, 2 + (int)((h2 >> 40) % 3),
			    0, 1);
		gput(b, "}}");
	} else if (kind == 1) {
		unsigned v = (unsigned)(h2 % 60);
		int np = 5 + (int)((h2 >> 8) % 11);

		gen_head(b, i, v == 0 ? "Lighting" : v == 1 ? "Daylight" :
		    "Appliance", "A networked appliance with properties, "
		    "actions and events, as the plugfest's medium Things");
		gput(b, ",\"properties\":{");
		if (v == 0) {
			gen_light(b);
			gen_pool_props(b, i, h2 >> 16, np - 2, 0, 0);
		} else if (v == 1) {
			gen_sensorinfo(b);
			gen_pool_props(b, i, h2 >> 16, np - 1, 0, 0);
		} else
			gen_pool_props(b, i, h2 >> 16, np, 0, 1);
		gput(b, "}");
		gen_actions(b, 1 + (int)((h2 >> 24) % 4), 0);
		if ((h2 >> 32) % 3 != 0)
			gen_events(b, 1 + (int)((h2 >> 36) % 2));
		gput(b, "}");
	} else {
		unsigned v = (unsigned)(h2 % 4);
		int np = 30 + (int)((h2 >> 8) % 21);

		gen_head(b, i, v == 0 ? "General lighting" : "Complex device",
		    "A device with many interaction affordances and nested "
		    "data schemas, as the plugfest's complex Things");
		gput(b, ",\"properties\":{");
		if (v == 0) {
			gen_light(b);
			gen_pool_props(b, i, h2 >> 16, np - 2, 1, 0);
		} else
			gen_pool_props(b, i, h2 >> 16, np, 1, 1);
		gput(b, "}");
		gen_actions(b, 6 + (int)((h2 >> 24) % 6), 1);
		gen_events(b, 3 + (int)((h2 >> 32) % 4));
		gput(b, "}");
	}
	return kind;
}

#endif
