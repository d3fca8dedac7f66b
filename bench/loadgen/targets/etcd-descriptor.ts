// The part of etcd's v3 API (etcdserverpb, mvccpb) the load generator uses, as a protobufjs JSON
// descriptor so no .proto file has to travel next to the compiled code. Field numbers follow
// etcd 3.4's api/etcdserverpb/rpc.proto and mvcc/mvccpb/kv.proto; fields we never set or read are
// left out (protobuf skips unknown fields on decode).

const f = (type: string, id: number, rule?: 'repeated') => (rule ? { type, id, rule } : { type, id });

export const etcdDescriptor = {
  nested: {
    mvccpb: {
      nested: {
        KeyValue: {
          fields: {
            key: f('bytes', 1),
            create_revision: f('int64', 2),
            mod_revision: f('int64', 3),
            version: f('int64', 4),
            value: f('bytes', 5),
            lease: f('int64', 6),
          },
        },
      },
    },
    etcdserverpb: {
      nested: {
        ResponseHeader: {
          fields: { cluster_id: f('uint64', 1), member_id: f('uint64', 2), revision: f('int64', 3), raft_term: f('uint64', 4) },
        },
        RangeRequest: {
          fields: {
            key: f('bytes', 1),
            range_end: f('bytes', 2),
            limit: f('int64', 3),
            revision: f('int64', 4),
            serializable: f('bool', 7),
            keys_only: f('bool', 8),
            count_only: f('bool', 9),
          },
        },
        RangeResponse: {
          fields: { header: f('ResponseHeader', 1), kvs: f('mvccpb.KeyValue', 2, 'repeated'), more: f('bool', 3), count: f('int64', 4) },
        },
        PutRequest: { fields: { key: f('bytes', 1), value: f('bytes', 2), lease: f('int64', 3), prev_kv: f('bool', 4) } },
        PutResponse: { fields: { header: f('ResponseHeader', 1), prev_kv: f('mvccpb.KeyValue', 2) } },
        DeleteRangeRequest: { fields: { key: f('bytes', 1), range_end: f('bytes', 2), prev_kv: f('bool', 3) } },
        DeleteRangeResponse: { fields: { header: f('ResponseHeader', 1), deleted: f('int64', 2) } },
        RequestOp: {
          oneofs: { request: { oneof: ['request_range', 'request_put', 'request_delete_range'] } },
          fields: { request_range: f('RangeRequest', 1), request_put: f('PutRequest', 2), request_delete_range: f('DeleteRangeRequest', 3) },
        },
        ResponseOp: {
          oneofs: { response: { oneof: ['response_range', 'response_put', 'response_delete_range'] } },
          fields: { response_range: f('RangeResponse', 1), response_put: f('PutResponse', 2), response_delete_range: f('DeleteRangeResponse', 3) },
        },
        Compare: {
          nested: {
            CompareResult: { values: { EQUAL: 0, GREATER: 1, LESS: 2, NOT_EQUAL: 3 } },
            CompareTarget: { values: { VERSION: 0, CREATE: 1, MOD: 2, VALUE: 3, LEASE: 4 } },
          },
          oneofs: { target_union: { oneof: ['version', 'create_revision', 'mod_revision', 'value', 'lease'] } },
          fields: {
            result: f('CompareResult', 1),
            target: f('CompareTarget', 2),
            key: f('bytes', 3),
            version: f('int64', 4),
            create_revision: f('int64', 5),
            mod_revision: f('int64', 6),
            value: f('bytes', 7),
            lease: f('int64', 8),
            range_end: f('bytes', 64),
          },
        },
        TxnRequest: {
          fields: { compare: f('Compare', 1, 'repeated'), success: f('RequestOp', 2, 'repeated'), failure: f('RequestOp', 3, 'repeated') },
        },
        TxnResponse: { fields: { header: f('ResponseHeader', 1), succeeded: f('bool', 2), responses: f('ResponseOp', 3, 'repeated') } },
        StatusRequest: { fields: {} },
        StatusResponse: {
          fields: {
            header: f('ResponseHeader', 1),
            version: f('string', 2),
            dbSize: f('int64', 3),
            leader: f('uint64', 4),
            raftIndex: f('uint64', 5),
            raftTerm: f('uint64', 6),
          },
        },
        KV: {
          methods: {
            Range: { requestType: 'RangeRequest', responseType: 'RangeResponse' },
            Put: { requestType: 'PutRequest', responseType: 'PutResponse' },
            DeleteRange: { requestType: 'DeleteRangeRequest', responseType: 'DeleteRangeResponse' },
            Txn: { requestType: 'TxnRequest', responseType: 'TxnResponse' },
          },
        },
        Maintenance: {
          methods: { Status: { requestType: 'StatusRequest', responseType: 'StatusResponse' } },
        },
      },
    },
  },
} as const;
